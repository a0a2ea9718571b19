"""Carry out a plan in order, stopping at the first error with a record of what was done.

Order: experiments, pipelines, pipeline versions, then each recurring run. A recurring run is
always created disabled and enabled by a second call; a replace runs: create the new one
disabled -> disable the old one(s) -> enable the new one -> delete the old one(s). So the
schedule always exists (never none), and at no moment are two copies enabled (never two):
between the disable and the enable (one API call, milliseconds) neither fires. Any
interruption leaves a state the next plan finishes (see plan.run_change).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from churnops.schedules.compiled import CompiledPipeline
from churnops.schedules.config import SchedulesConfig
from churnops.schedules.kfp_api import ApiError, KfpApi, ScheduleGoneError
from churnops.schedules.plan import Change, Plan
from churnops.schedules.state import Observed


@dataclass
class ApplyResult:
    done: list[str] = field(default_factory=list)  # one line per API change made
    failed: Change | None = None
    error: str = ""
    not_applied: list[Change] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed is None


def apply(plan: Plan, config: SchedulesConfig, compiled: dict[str, CompiledPipeline], observed: Observed,
          api: KfpApi) -> ApplyResult:
    result = ApplyResult()
    ids = _Ids(observed)
    pending = plan.pending
    for index, change in enumerate(pending):
        try:
            _apply_one(change, config, compiled, ids, api, result.done)
        except ApiError as exc:
            result.failed, result.error = change, str(exc)
            result.not_applied = pending[index + 1:]
            break
    return result


class _Ids:
    """IDs by name: what was observed, plus what this apply created."""

    def __init__(self, observed: Observed) -> None:
        self.experiments = {name: found[0] for name, found in observed.experiments.items()}
        self.pipelines = dict(observed.pipelines)
        self.versions = dict(observed.versions)


def _apply_one(change: Change, config: SchedulesConfig, compiled: dict[str, CompiledPipeline], ids: _Ids,
               api: KfpApi, done: list[str]) -> None:
    if change.kind == "experiment":
        experiment = next(e for e in config.experiments if e.name == change.name)
        if change.verb == "create":
            ids.experiments[change.name] = api.create_experiment(change.name, experiment.description)
            done.append(f"created experiment {change.name}")
        else:
            api.unarchive_experiment(change.name, ids.experiments[change.name])
            done.append(f"unarchived experiment {change.name}")
    elif change.kind == "pipeline":
        ids.pipelines[change.name] = api.create_pipeline(change.name, config.pipeline(change.name).description)
        done.append(f"created pipeline {change.name}")
    elif change.kind == "pipeline-version":
        target = compiled[change.name]
        ids.versions[change.name] = api.upload_version(
            change.name, ids.pipelines[change.name], target.version_name, target.path,
            f"{config.pipeline(change.name).description} (sha256 {target.digest})".strip(),
        )
        done.append(f"uploaded pipeline {change.name} version {target.version_name}")
    else:
        _apply_run(change, config, ids, api, done)


def _apply_run(change: Change, config: SchedulesConfig, ids: _Ids, api: KfpApi, done: list[str]) -> None:
    name = change.name
    if change.verb == "delete":
        _retire(change, api, done)
        return
    desired = change.desired
    assert desired is not None
    keep_id, keep_enabled = (change.keep.id, change.keep.enabled) if change.keep else (None, False)
    if keep_id is None:
        # Always created disabled, enabled below once no other copy is: even when a create is
        # retried after a lost response (leaving a duplicate), at most one copy is ever enabled.
        keep_id = api.create_recurring_run(
            desired.decl, desired.description(config.scope), ids.experiments[desired.decl.experiment],
            ids.pipelines[desired.decl.pipeline], ids.versions[desired.decl.pipeline], enabled=False,
        )
        done.append(f"created recurring run {name} ({keep_id}, disabled)")
    for run in change.stale:
        if run.enabled:
            api.disable_recurring_run(name, run.id)
            done.append(f"disabled old recurring run {name} ({run.id})")
    if desired.decl.enabled and not keep_enabled:
        try:
            api.enable_recurring_run(name, keep_id)
        except ScheduleGoneError:
            # KFP cannot enable a run whose ScheduledWorkflow was deleted behind its back (500,
            # resource_manager.go: ChangeJobMode); retrying never helps. Replace it: a new copy
            # (created disabled, with its own ScheduledWorkflow), enabled, then the broken one
            # deleted with ORPHAN (DeleteJob skips the missing ScheduledWorkflow). The broken copy
            # fires nothing, so no two copies ever fire.
            broken = keep_id
            keep_id = api.create_recurring_run(
                desired.decl, desired.description(config.scope), ids.experiments[desired.decl.experiment],
                ids.pipelines[desired.decl.pipeline], ids.versions[desired.decl.pipeline], enabled=False,
            )
            done.append(f"created recurring run {name} ({keep_id}, disabled) to replace {broken}: "
                        "its ScheduledWorkflow is gone")
            api.enable_recurring_run(name, keep_id)
            done.append(f"enabled recurring run {name} ({keep_id})")
            api.delete_recurring_run(name, broken)
            done.append(f"deleted broken recurring run {name} ({broken})")
        else:
            done.append(f"enabled recurring run {name} ({keep_id})")
    elif keep_enabled and not desired.decl.enabled:
        api.disable_recurring_run(name, keep_id)
        done.append(f"disabled recurring run {name} ({keep_id})")
    for run in change.stale:
        api.delete_recurring_run(name, run.id)
        done.append(f"deleted old recurring run {name} ({run.id})")


def _retire(change: Change, api: KfpApi, done: list[str]) -> None:
    for run in change.stale:
        api.delete_recurring_run(change.name, run.id)
        done.append(f"deleted recurring run {change.name} ({run.id})")
