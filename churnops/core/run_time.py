"""When a scoring run is "for": the `{scheduled_time}` token of an output URI.

A recurring run's predictions must land in a new object each day. KFP's own `[[ScheduledTime]]`
macro is never expanded for a v2 pipeline pinned to a pipeline version (issue 23: the recurring
run embeds the compiled workflow, and the ScheduledWorkflow controller rewrites only
`spec.arguments.parameters`, while a v2 pipeline's inputs live in the root driver's runtime
config), so every day overwrote one object literally named `[[ScheduledTime]].csv`. Instead the
pipelines hand the publishing steps KFP's `{{$.pipeline_job_schedule_time_utc}}` placeholder as a
task input of its own, which the v2 driver replaces with the run's schedule time (a recurring run's
slot; a manual run's creation time) in RFC 3339 UTC (read in kubeflow/pipelines 2.17.0:
backend/src/v2/driver/resolve.go resolveInputParameter, backend/src/v2/cmd/driver/main.go
resolvePipelineJobScheduleTimeUTCFromWorkflow; only an input whose whole value is the placeholder
is replaced). KFP's local runner leaves it as is: a local run uses the time `churnops predict`
started (CHURNOPS_RUN_TIME, set once per run, so every step of the run agrees), else now.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from churnops.errors import DatasetError

TOKEN = "{scheduled_time}"
KFP_PLACEHOLDER = "{{$.pipeline_job_schedule_time_utc}}"  # kfp.dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER
FORMAT = "%Y%m%dT%H%M%SZ"  # 20261207T073000Z: sorts by time, no ':' (safe in object names and paths)
_MACRO = re.compile(r"\[\[[A-Za-z.+\-0-9]*\]\]")
_TOKEN = re.compile(r"\{[a-z_]+\}")


def check_template(output_uri: str) -> None:
    """Refuse what would silently name every run's output the same: KFP v1 macros, unknown tokens."""
    if macro := _MACRO.search(output_uri):
        raise DatasetError(
            f"output_uri {output_uri!r} uses the KFP macro {macro.group(0)}, which KFP never expands for a v2 "
            f"pipeline's inputs: every run would write the same object. Write {TOKEN} instead "
            "(the run's schedule time, e.g. s3://bucket/predictions/{scheduled_time}.csv).")
    unknown = sorted({token for token in _TOKEN.findall(output_uri) if token != TOKEN})
    if unknown:
        raise DatasetError(f"output_uri {output_uri!r} has unknown token(s) {', '.join(unknown)}; the one token is {TOKEN}.")


def parse(value: str) -> datetime | None:
    """The driver's RFC 3339 time (or our own FORMAT); None for the unresolved placeholder or ''."""
    value = (value or "").strip()
    if not value or value == KFP_PLACEHOLDER:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z", FORMAT):
        try:
            parsed = datetime.strptime(value, pattern)
        except ValueError:
            continue
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    raise DatasetError(f"Unreadable schedule time {value!r}: expected RFC 3339 UTC such as 2026-12-07T07:30:00Z.")


def expand(output_uri: str, scheduled_time: str, run_time: str, now: datetime) -> str:
    """output_uri with {scheduled_time} replaced: the driver's time, else this local run's, else now."""
    check_template(output_uri)
    if TOKEN not in output_uri:
        return output_uri
    when = parse(scheduled_time) or parse(run_time) or now.astimezone(timezone.utc)
    return output_uri.replace(TOKEN, when.strftime(FORMAT))
