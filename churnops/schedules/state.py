"""What a sync wants (desired runs, with their spec hash) and what KFP has (observed objects).

KFP cannot label a recurring run or update it in place, so we own a run by a marker line at
the end of its description: `[managed-by churnops-sync scope=<scope> spec=<hash>]`. The
hash covers everything about the run except enabled/disabled (the one thing KFP can change
in place), so a run whose marker hash equals the desired hash is up to date, and any other
run of ours with that name is stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from churnops.schedules.config import RecurringRunDecl
from churnops.schedules.marker import MARKER, described


@dataclass(frozen=True)
class DesiredRun:
    decl: RecurringRunDecl
    version_name: str  # the content-hash name of the pipeline version it runs
    spec: str  # hash of everything but `enabled`

    @property
    def name(self) -> str:
        return self.decl.name

    def description(self, scope: str) -> str:
        return described(self.decl.description, scope, self.spec)


def spec_hash(decl: RecurringRunDecl, version_name: str) -> str:
    """A stable hash of the run's desired spec (not `enabled`): any change means replace."""
    spec = {
        "pipeline": decl.pipeline,
        "version": version_name,
        "experiment": decl.experiment,
        "cron": decl.cron,
        "interval_seconds": decl.interval_seconds,
        "start_time": decl.start_time,
        "end_time": decl.end_time,
        "max_concurrency": decl.max_concurrency,
        "catchup": decl.catchup,
        "service_account": decl.service_account,
        "parameters": decl.parameters,
        "description": decl.description.strip(),
    }
    if decl.pipeline_root:  # only when declared: a file without one keeps its runs' earlier hashes
        spec["pipeline_root"] = decl.pipeline_root
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def desired_runs(runs: tuple[RecurringRunDecl, ...], version_names: dict[str, str]) -> list[DesiredRun]:
    return [DesiredRun(run, version_names[run.pipeline], spec_hash(run, version_names[run.pipeline])) for run in runs]


@dataclass(frozen=True)
class ObservedRun:
    id: str
    name: str
    enabled: bool
    scope: str | None  # None: not managed by any churnops sync
    spec: str | None
    # What KFP reports, to say what changed in the plan.
    fields: dict[str, Any] = field(default_factory=dict, compare=False)


def parse_marker(description: str | None) -> tuple[str | None, str | None]:
    match = MARKER.search(description or "")
    return (match.group("scope"), match.group("spec")) if match else (None, None)


@dataclass
class Observed:
    experiments: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (id, archived)
    pipelines: dict[str, str] = field(default_factory=dict)  # name -> id
    versions: dict[str, str] = field(default_factory=dict)  # pipeline name -> id of the desired version
    runs: list[ObservedRun] = field(default_factory=list)
