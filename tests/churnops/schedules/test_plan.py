"""plan() without a network: from any state of our copies of a run, the change that converges."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from churnops.schedules.compiled import CompiledPipeline
from churnops.schedules.config import Experiment, PipelineDecl, RecurringRunDecl, SchedulesConfig
from churnops.schedules.plan import plan
from churnops.schedules.state import Observed, ObservedRun, spec_hash

DECL = RecurringRunDecl(name="weekly", pipeline="p", experiment="e", cron="0 0 3 * * MON", interval_seconds=None,
                        start_time=None, end_time=None, max_concurrency=1, catchup=False, enabled=True,
                        service_account="sa", parameters={"a": 1, "b": {"x": 2}})
COMPILED = {"p": CompiledPipeline("p", Path("p.yaml"), "ab" * 32)}
SPEC = spec_hash(DECL, COMPILED["p"].version_name)


def config(*runs: RecurringRunDecl) -> SchedulesConfig:
    return SchedulesConfig(Path("s.yaml"), "prod", None, (Experiment("e"),), (PipelineDecl("p", "training"),), runs)


def ours(run_id: str, enabled: bool, spec: str = SPEC, scope: str = "prod") -> ObservedRun:
    return ObservedRun(run_id, "weekly", enabled, scope, spec)


def observed(*runs: ObservedRun) -> Observed:
    return Observed({"e": ("e-id", False)}, {"p": "p-id"}, {"p": "v-id"}, list(runs))


OLD = "0" * 16


@pytest.mark.parametrize(("runs", "verb", "keep", "stale"), [
    ((), "create", None, []),
    ((ours("a", True),), "no-op", "a", []),
    ((ours("a", False),), "enable", "a", []),
    ((ours("old", True, OLD),), "replace", None, ["old"]),
    # interrupted after "create new disabled": keep the new one, retire the old one
    ((ours("old", True, OLD), ours("new", False)), "replace", "new", ["old"]),
    # interrupted after "disable old": same, nothing is created again
    ((ours("old", False, OLD), ours("new", False)), "replace", "new", ["old"]),
    # interrupted after "enable new": only the delete is left
    ((ours("old", False, OLD), ours("new", True)), "replace", "new", ["old"]),
    # a duplicate left by a retried create: keep the enabled copy
    ((ours("dup", False), ours("a", True)), "replace", "a", ["dup"]),
    # another scope's run and a foreign run of the same name are not ours
    ((ours("dev", True, scope="dev"), ObservedRun("ui", "weekly", True, None, None)), "create", None, []),
], ids=["absent", "in-sync", "disabled-by-hand", "changed", "after-create", "after-disable", "after-enable",
        "duplicate", "not-ours"])
def test_every_state_of_our_copies_converges(runs, verb, keep, stale):
    (change,) = [c for c in plan(config(DECL), COMPILED, observed(*runs)).changes if c.kind == "recurring-run"]

    assert change.verb == verb
    assert (change.keep.id if change.keep else None) == keep
    assert [run.id for run in change.stale] == stale


def test_the_spec_hash_ignores_enabled_and_key_order_but_nothing_else():
    same = dataclasses.replace(DECL, enabled=False, parameters={"b": {"x": 2}, "a": 1})
    assert spec_hash(same, "v") == spec_hash(DECL, "v")
    for change in ({"cron": "0 0 4 * * MON"}, {"parameters": {"a": 2, "b": {"x": 2}}}, {"service_account": "other"},
                   {"catchup": True}, {"max_concurrency": 2}, {"description": "new words"}, {"experiment": "e2"}):
        assert spec_hash(dataclasses.replace(DECL, **change), "v") != spec_hash(DECL, "v"), change
    assert spec_hash(DECL, "v2") != spec_hash(DECL, "v")


def test_removed_runs_are_kept_unless_pruned():
    state = observed(ours("a", True))

    (kept,) = [c for c in plan(config(), COMPILED, state).changes if c.kind == "recurring-run"]
    (deleted,) = [c for c in plan(config(), COMPILED, state, prune=True).changes if c.kind == "recurring-run"]

    assert (kept.verb, kept.pending) == ("keep", False)
    assert (deleted.verb, [r.id for r in deleted.stale]) == ("delete", ["a"])
