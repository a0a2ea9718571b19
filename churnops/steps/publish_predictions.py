"""Step `publish_predictions`: write the scored CSV (and its rejected rows) to `output_uri`, atomically.

churnops.storage.outputs says how "never a half file" holds for local paths and object stores.
"""

from __future__ import annotations

from typing import Any

from churnops.storage import outputs


def rejections_uri_for(output_uri: str) -> str:
    """preds.csv -> preds.rejected.csv beside it (what `churnops predict` does locally too)."""
    head, _, name = output_uri.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    base = f"{stem}.rejected.{suffix}" if dot and stem else f"{name}.rejected.csv"
    return f"{head}/{base}" if head else base


def run(predictions_path: str, rejections_path: str, output_uri: str, *, rows: int, rejected: int,
        scheduled_time: str = "") -> dict[str, Any]:
    """`output_uri` may hold `{scheduled_time}` (churnops.core.run_time): the run's schedule time."""
    output_uri = outputs.output_uri_for(output_uri, scheduled_time)
    outputs.check_output_uri(output_uri)
    rejections_uri = ""  # not None: KFP parameters (a Collected list of these dicts) have no null
    if rejected:  # first, so a reader that sees the predictions also finds the rows left out
        rejections_uri = outputs.publish(rejections_path, rejections_uri_for(output_uri))
    published = outputs.publish(predictions_path, output_uri)
    return {"output_uri": published, "rejections_uri": rejections_uri, "rows": rows, "rejected": rejected}
