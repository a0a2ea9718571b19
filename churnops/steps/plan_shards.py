"""Step `plan_shards`: the files an input names (a glob or a folder/prefix on gs://, s3:// or local) as scoring shards.

Each shard is one input file and the part it is scored into, in the sorted order of the inputs:
`<output_uri>/batches/<batch>/part-00000.csv`, ... where <batch> is this run's own prefix (UTC time
and a random suffix: unique, sorting by start). Nothing of an earlier run is ever written over: the
run publishes by replacing `<output_uri>/manifest.json` last (write_manifest), so a reader of the
manifest sees the parts of one run, and a failed run leaves the published output exactly as it was.
Never serve this step from KFP's cache (off on every compile path, pipelines/platform.py): a cached
plan would name an earlier run's prefix, whose published parts this run would then overwrite.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from churnops.errors import DatasetError
from churnops.storage import outputs

BATCHES = "batches"


def part_name(index: int) -> str:
    return f"part-{index:05d}.csv"


def batch_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run(input_uri: str, output_uri: str, scheduled_time: str = "") -> list[dict[str, Any]]:
    if not output_uri:
        raise DatasetError("Sharded scoring needs an output_uri (a folder or prefix the parts and manifest go to).")
    output_uri = outputs.output_uri_for(output_uri, scheduled_time)
    outputs.check_output_uri(output_uri)
    batch = batch_id()
    prefix = outputs.join(outputs.join(output_uri, BATCHES), batch)
    return [{"index": index, "input_uri": uri, "part_uri": outputs.join(prefix, part_name(index)), "batch": batch}
            for index, uri in enumerate(outputs.list_inputs(input_uri))]
