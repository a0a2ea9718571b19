"""Diff the desired schedules against what KFP has: a list of changes, pure (no API calls).

Recurring runs of one name are reconciled as a group, which makes a rerun converge from any
half-applied state: the run of ours whose spec hash matches is kept (or created), every other
run of ours with that name is stale and is retired (disabled first, deleted last).
Runs without our marker (someone else's), or with another scope's marker, are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from churnops.schedules.compiled import CompiledPipeline
from churnops.schedules.config import SchedulesConfig
from churnops.schedules.state import DesiredRun, Observed, ObservedRun, desired_runs

NO_CHANGE = ("no-op", "keep")


@dataclass(frozen=True)
class Change:
    verb: str  # create | unarchive | upload | replace | enable | disable | delete | no-op | keep
    kind: str  # experiment | pipeline | pipeline-version | recurring-run
    name: str
    detail: str = ""
    desired: DesiredRun | None = None
    keep: ObservedRun | None = None  # our run that already matches `desired`
    stale: tuple[ObservedRun, ...] = ()  # our other runs of this name, to retire

    @property
    def pending(self) -> bool:
        return self.verb not in NO_CHANGE


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def pending(self) -> list[Change]:
        return [change for change in self.changes if change.pending]


def plan(config: SchedulesConfig, compiled: dict[str, CompiledPipeline], observed: Observed,
         prune: bool = False) -> Plan:
    changes: list[Change] = []
    warnings: list[str] = []
    for experiment in config.experiments:
        if experiment.name not in observed.experiments:
            changes.append(Change("create", "experiment", experiment.name))
        elif observed.experiments[experiment.name][1]:
            changes.append(Change("unarchive", "experiment", experiment.name, "archived; runs cannot start in it"))
        else:
            changes.append(Change("no-op", "experiment", experiment.name))
    for pipeline in config.pipelines:
        version = compiled[pipeline.name].version_name
        if pipeline.name not in observed.pipelines:
            changes.append(Change("create", "pipeline", pipeline.name))
        else:
            changes.append(Change("no-op", "pipeline", pipeline.name))
        if pipeline.name in observed.versions:
            changes.append(Change("no-op", "pipeline-version", pipeline.name, version))
        else:
            changes.append(Change("upload", "pipeline-version", pipeline.name, f"{version} (new content)"))

    ours: dict[str, list[ObservedRun]] = {}
    foreign: dict[str, list[ObservedRun]] = {}
    for run in observed.runs:
        if run.scope == config.scope:
            ours.setdefault(run.name, []).append(run)
        elif run.scope is None:
            foreign.setdefault(run.name, []).append(run)
    versions = {name: c.version_name for name, c in compiled.items()}
    for desired in desired_runs(config.recurring_runs, versions):
        changes.append(run_change(desired, ours.pop(desired.name, []), observed, versions))
        if desired.name in foreign:
            warnings.append(f"recurring run {desired.name!r} also exists without the churnops marker "
                            f"({', '.join(r.id for r in foreign[desired.name])}); it is left alone: "
                            "delete it by hand if it duplicates this schedule")
    for name, runs in sorted(ours.items()):
        if prune:
            changes.append(Change("delete", "recurring-run", name, "removed from the file (--prune)",
                                  stale=tuple(runs)))
        else:
            changes.append(Change("keep", "recurring-run", name, "removed from the file; rerun with --prune to delete",
                                  stale=tuple(runs)))
    return Plan(tuple(changes), tuple(warnings))


def run_change(desired: DesiredRun, existing: list[ObservedRun], observed: Observed,
               versions: dict[str, str]) -> Change:
    matching = [run for run in existing if run.spec == desired.spec]
    # Prefer an enabled match, so a half-done replace finishes without an extra enable.
    matching.sort(key=lambda run: not run.enabled)
    keep = matching[0] if matching else None
    stale = tuple(run for run in existing if run is not keep)
    if keep is None:
        if not existing:
            state = "enabled" if desired.decl.enabled else "disabled"
            return Change("create", "recurring-run", desired.name, f"{schedule_text(desired)}, {state}", desired)
        return Change("replace", "recurring-run", desired.name, changed_fields(desired, existing[0], observed, versions),
                      desired, stale=stale)
    if stale:
        return Change("replace", "recurring-run", desired.name, "finish an earlier replace (retire stale copies)",
                      desired, keep, stale)
    if keep.enabled != desired.decl.enabled:
        verb = "enable" if desired.decl.enabled else "disable"
        return Change(verb, "recurring-run", desired.name, f"{verb}d in the file", desired, keep)
    return Change("no-op", "recurring-run", desired.name, schedule_text(desired), desired, keep)


def schedule_text(desired: DesiredRun) -> str:
    decl = desired.decl
    return f"cron {decl.cron!r}" if decl.cron else f"every {decl.interval_seconds}s"


def changed_fields(desired: DesiredRun, current: ObservedRun, observed: Observed, versions: dict[str, str]) -> str:
    """What differs, in words, from what KFP reports about the current run."""
    decl = desired.decl
    have: dict[str, Any] = current.fields
    differences = []
    for key, want in (("cron", decl.cron), ("interval_seconds", decl.interval_seconds),
                      ("max_concurrency", decl.max_concurrency), ("catchup", decl.catchup),
                      ("service_account", decl.service_account), ("pipeline_root", decl.pipeline_root)):
        if key in have and have[key] != want:
            differences.append(f"{key} {have[key]!r} -> {want!r}")
    if "parameters" in have and have["parameters"] != decl.parameters:
        keys = sorted(k for k in set(have["parameters"]) | set(decl.parameters)
                      if have["parameters"].get(k) != decl.parameters.get(k))
        differences.append(f"parameters {', '.join(keys)}")
    version_id = observed.versions.get(decl.pipeline)
    if have.get("version_id") and have.get("version_id") != version_id:
        differences.append(f"pipeline version -> {versions[decl.pipeline]}")
    return "; ".join(differences) or "spec changed (description, start/end time or experiment)"
