"""Step `write_manifest`: after every shard published its part, `<output_uri>/manifest.json` lists the parts and row counts.

The manifest is the one pointer a reader follows: this run's parts are under its own batch prefix
(plan_shards), and replacing the manifest, written last and atomically, is what publishes them. A
reader that finds the manifest finds every part it names, whole and of one run; a run that fails
before this step leaves the previous manifest and the parts it names exactly as they were.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from churnops.errors import DatasetError
from churnops.storage import outputs

MANIFEST = "manifest.json"
SCHEMA = "churnops.predictions-manifest"
SCHEMA_VERSION = 2  # 2: parts under batches/<batch>/, the manifest names its batch


def batch_of(shards: list[dict[str, Any]]) -> str:
    batches = {shard.get("batch", "") for shard in shards}
    if len(batches) > 1:
        raise DatasetError(f"The shards of one run name {len(batches)} batches ({sorted(batches)[:3]}); no manifest written.")
    return batches.pop() if batches else ""


def run(parts: list[dict[str, Any]], shards: list[dict[str, Any]], output_uri: str, model: dict[str, Any],
        scheduled_time: str = "") -> dict[str, Any]:
    """`parts`: what publish_predictions returned per shard (any order); `shards`: plan_shards' list."""
    output_uri = outputs.output_uri_for(output_uri, scheduled_time)  # the same folder plan_shards named
    published = {outputs.normalise(part["output_uri"]): part for part in parts}
    missing = [shard["part_uri"] for shard in shards if outputs.normalise(shard["part_uri"]) not in published]
    if missing or len(parts) != len(shards):
        raise DatasetError(f"{len(parts)} parts published for {len(shards)} shards (missing: {missing[:5]}); "
                           "no manifest written.")
    ordered = [{**published[outputs.normalise(shard["part_uri"])], "index": shard["index"],
                "input_uri": shard["input_uri"]} for shard in sorted(shards, key=lambda shard: int(shard["index"]))]
    manifest = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "batch": batch_of(shards),
        "model_name": model.get("model_name"), "model_version": model.get("model_version"),
        "rows": sum(int(part["rows"]) for part in ordered), "rejected": sum(int(part["rejected"]) for part in ordered),
        "parts": [{"index": int(part["index"]), "input_uri": part["input_uri"], "uri": part["output_uri"],
                   "rows": int(part["rows"]), "rejected": int(part["rejected"]),
                   "rejections_uri": part.get("rejections_uri") or None} for part in ordered],
    }
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / MANIFEST
        local.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        uri = outputs.publish(str(local), outputs.join(output_uri, MANIFEST))
    return {**{k: v for k, v in manifest.items() if k != "parts"}, "parts": len(ordered), "manifest_uri": uri}
