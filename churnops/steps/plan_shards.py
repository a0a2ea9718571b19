"""Step `plan_shards`: the files an input names (a glob or a folder/prefix on gs://, s3:// or local) as scoring shards.

Each shard is one input file and the part it is scored into: `<output_uri>/part-00000.csv`, ...
in the sorted order of the inputs, so a rerun writes the same parts.
"""

from __future__ import annotations

from typing import Any

from churnops.errors import DatasetError
from churnops.storage import outputs


def part_name(index: int) -> str:
    return f"part-{index:05d}.csv"


def run(input_uri: str, output_uri: str, scheduled_time: str = "") -> list[dict[str, Any]]:
    if not output_uri:
        raise DatasetError("Sharded scoring needs an output_uri (a folder or prefix the parts and manifest go to).")
    output_uri = outputs.output_uri_for(output_uri, scheduled_time)
    outputs.check_output_uri(output_uri)
    return [{"index": index, "input_uri": uri, "part_uri": outputs.join(output_uri, part_name(index))}
            for index, uri in enumerate(outputs.list_inputs(input_uri))]
