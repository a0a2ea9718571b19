"""The drift-triggered retrain against the KFP double (tests/support/kfp_server.py), through the real kfp.Client.

Time is the double's virtual clock (the step's `now`), so windows pass without sleeping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from support import retrain_target
from support.kfp_server import FakeKfpServer
from support.paths import REPO as ROOT
from support.retrain_target import TARGET

from churnops import defaults, names
from churnops.core import storm_guard
from churnops.errors import ChurnopsError
from churnops.registry import journal
from churnops.steps import trigger_retrain

WINDOW = 24 * 3600
DRIFTED = {"verdict": "drifted", "drifted_features": ["tenure", "MonthlyCharges", "Contract"],
           "report_uri": "s3://mlflow/7/abc/artifacts/drift/report.html", "model_name": "churn-classifier",
           "model_version": "3"}


@pytest.fixture(scope="module")
def training_package(tmp_path_factory):
    return retrain_target.compile_training(tmp_path_factory.mktemp("package") / "training.yaml")


@pytest.fixture
def kfp_server(training_package):
    """The double with what the schedules sync leaves: the training pipeline and its weekly recurring run."""
    with FakeKfpServer() as server:
        server.experiment_id = retrain_target.seed(server, training_package)
        yield server


def trigger(server: FakeKfpServer, drift: dict = DRIFTED, **overrides):
    options = {"enabled": True, "kfp_host": server.url, "namespace": "", "recurring_run": TARGET,
               "window_seconds": WINDOW, "now": lambda: server.now, **overrides}
    return trigger_retrain.run(drift, **options)


def created_runs(server: FakeKfpServer) -> list[dict]:
    return sorted(server.state.runs.values(), key=lambda run: run["created_at"])


def test_a_drifted_batch_starts_what_the_recurring_run_runs_tagged_with_the_trigger_and_report(kfp_server):
    decision = trigger(kfp_server)
    assert decision["action"] == "trigger" and decision["claim"] == f"{TARGET}-drift-retrain-000001"
    [run] = created_runs(kfp_server)
    schedule = next(iter(kfp_server.state.recurring_runs.values()))
    assert run["run_id"] == decision["run_id"]
    assert run["display_name"] == f"{TARGET}-drift-000001"
    assert run["pipeline_version_reference"] == schedule["pipeline_version_reference"]
    assert run["runtime_config"]["parameters"] == schedule["runtime_config"]["parameters"]
    assert (run["experiment_id"], run["service_account"]) == (kfp_server.experiment_id, "churnops-pipeline-runner")
    assert run["description"].startswith(f"trigger=drift; report={DRIFTED['report_uri']};")
    assert "drifted=tenure,MonthlyCharges,Contract" in run["description"]


def test_one_trigger_within_the_window_and_another_after_it(kfp_server):
    assert trigger(kfp_server)["action"] == "trigger"
    kfp_server.advance(WINDOW - 60)  # a day of hourly scoring runs, every batch drifted: still one retrain
    second = trigger(kfp_server)
    assert second["action"] == "skip" and second["reason"].startswith("storm guard:") and "60 s left" in second["reason"]
    assert len(created_runs(kfp_server)) == 1
    kfp_server.advance(60)
    third = trigger(kfp_server)
    assert third["action"] == "trigger" and third["claim"].endswith("-000002")
    assert len(created_runs(kfp_server)) == 2


def test_two_scoring_runs_that_read_the_guard_together_trigger_once(kfp_server, monkeypatch):
    # Force the worst interleaving: both writers have listed the claims (none) before either claims.
    listed = threading.Barrier(2, timeout=10)
    original = trigger_retrain._experiments

    def list_then_wait(*args):
        found = original(*args)
        listed.wait()
        return found

    monkeypatch.setattr(trigger_retrain, "_experiments", list_then_wait)
    decisions: list[dict] = []
    writers = [threading.Thread(target=lambda: decisions.append(trigger(kfp_server))) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=30)
    assert sorted(decision["action"] for decision in decisions) == ["skip", "trigger"]
    [lost] = [decision for decision in decisions if decision["action"] == "skip"]
    assert lost["reason"] == f"storm guard: another scoring run took {TARGET}-drift-retrain-000001 first"
    assert len(created_runs(kfp_server)) == 1
    claims = [call for call in kfp_server.calls if call.method == "POST" and call.path.endswith("/experiments")]
    assert [call.status for call in claims].count(409) == 1  # the API's uniqueness decided, not luck


def test_many_scoring_runs_started_together_trigger_once(kfp_server):
    start = threading.Barrier(8, timeout=10)
    decisions: list[dict] = []

    def writer():
        start.wait()
        decisions.append(trigger(kfp_server))

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [decision["action"] for decision in decisions].count("trigger") == 1
    assert len(decisions) == 8 and len(created_runs(kfp_server)) == 1


@pytest.mark.parametrize(("drift", "enabled", "reason"), [
    ({**DRIFTED, "verdict": "warn"}, True, "verdict is warn: only a drifted batch triggers retraining"),
    ({**DRIFTED, "verdict": "ok"}, True, "verdict is ok: only a drifted batch triggers retraining"),
    (DRIFTED, False, "drifted, but retrain_on_drift is off: nothing triggered"),
])
def test_no_trigger_without_drift_or_when_off_and_kfp_is_not_contacted(kfp_server, drift, enabled, reason):
    decision = trigger(kfp_server, drift, enabled=enabled, kfp_host="http://127.0.0.1:9")  # nothing listens there
    assert (decision["action"], decision["reason"], decision["run_id"]) == ("skip", reason, None)
    assert kfp_server.calls == []


def test_a_refused_run_gives_the_window_back(kfp_server):
    kfp_server.fail("POST", r"/runs$", status=400)
    with pytest.raises(ChurnopsError, match="KFP refused the run"):
        trigger(kfp_server)
    assert not [e for e in kfp_server.state.experiments.values() if storm_guard.CLAIM_INFIX in e["display_name"]]
    assert trigger(kfp_server)["action"] == "trigger"  # the next drifted batch may try again


def test_an_unknown_recurring_run_is_an_error_that_says_what_to_fix(kfp_server):
    with pytest.raises(ChurnopsError, match="No recurring run named 'nope'.*churnops sync"):
        trigger(kfp_server, recurring_run="nope")


# -- self-healing claims: a scorer killed between the claim and the run create -----------------------

GRACE = defaults.RETRAIN_CLAIM_GRACE_SECONDS
SCRIPT = ROOT / "tests" / "support" / "trigger_run.py"


def trigger_in_a_process(server: FakeKfpServer, tmp_path, crash_at: str | None) -> subprocess.CompletedProcess:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"drift": DRIFTED, "kfp_host": server.url, "namespace": "", "recurring_run": TARGET,
                                "window_seconds": WINDOW, "grace_seconds": GRACE, "now": server.now}))
    env = {key: value for key, value in os.environ.items() if key != names.ENV_CRASH_AT}
    env["PYTHONPATH"] = str(ROOT)  # this tree's churnops, not an installed copy
    if crash_at:
        env[names.ENV_CRASH_AT] = crash_at
    return subprocess.run([sys.executable, str(SCRIPT), str(plan)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def claims_in(server: FakeKfpServer) -> list[dict]:
    return sorted((e for e in server.state.experiments.values() if storm_guard.CLAIM_INFIX in e["display_name"]),
                  key=lambda e: e["display_name"])


def kill_after_claim(server: FakeKfpServer, tmp_path) -> None:
    killed = trigger_in_a_process(server, tmp_path, "trigger:after-claim")
    assert killed.returncode == journal.KILLED_EXIT_CODE, killed.stderr[-2000:]
    [claim] = claims_in(server)  # the window is closed ...
    assert claim["display_name"] == f"{TARGET}-drift-retrain-000001"
    assert f"run={TARGET}-drift-000001" in claim["description"] and "claimed_at=2026-01-05T00:00:00Z" in claim["description"]
    assert created_runs(server) == []  # ... and nothing retrains


def test_the_process_without_a_kill_triggers(kfp_server, tmp_path):
    # The subprocess path itself works: the kill below is what leaves the claim without a run.
    done = trigger_in_a_process(kfp_server, tmp_path, None)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["action"] == "trigger" and len(created_runs(kfp_server)) == 1


def test_a_claim_whose_scorer_died_before_the_run_is_taken_over_after_the_grace(kfp_server, tmp_path):
    kill_after_claim(kfp_server, tmp_path)
    assert trigger(kfp_server)["action"] == "skip"  # young: its owner may still be creating the run
    kfp_server.advance(GRACE - 1)
    assert trigger(kfp_server)["reason"].startswith("storm guard:")
    kfp_server.advance(1)
    taken = trigger(kfp_server)
    assert taken["action"] == "trigger" and taken["claim"] == f"{TARGET}-drift-retrain-000002"
    assert f"{TARGET}-drift-retrain-000001 was claimed {GRACE} s ago and never started its run" in taken["reason"]
    [run] = created_runs(kfp_server)
    assert run["display_name"] == f"{TARGET}-drift-000002" and run["run_id"] == taken["run_id"]
    assert f"replaces={TARGET}-drift-retrain-000001" in claims_in(kfp_server)[1]["description"]
    # The new claim has its run: the window is closed again, for real.
    kfp_server.advance(GRACE)
    later = trigger(kfp_server)
    assert later["action"] == "skip" and later["claim"].endswith("-000002") and len(created_runs(kfp_server)) == 1


def test_a_claim_with_its_run_is_never_taken_over(kfp_server):
    assert trigger(kfp_server)["action"] == "trigger"
    kfp_server.advance(GRACE + 1)
    assert trigger(kfp_server)["action"] == "skip" and len(created_runs(kfp_server)) == 1


def test_of_several_takers_of_an_abandoned_claim_exactly_one_wins(kfp_server, tmp_path, monkeypatch):
    kill_after_claim(kfp_server, tmp_path)
    kfp_server.advance(GRACE)
    takers = 6
    # The worst interleaving: every taker has listed the claims and found claim 1 abandoned
    # (no run) before any of them claims 2.
    checked = threading.Barrier(takers, timeout=20)
    original = trigger_retrain._run_exists

    def check_then_wait(*args):
        found = original(*args)
        checked.wait()
        return found

    monkeypatch.setattr(trigger_retrain, "_run_exists", check_then_wait)
    decisions: list[dict] = []
    threads = [threading.Thread(target=lambda: decisions.append(trigger(kfp_server))) for _ in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(decisions) == takers
    assert [decision["action"] for decision in decisions].count("trigger") == 1
    assert len(created_runs(kfp_server)) == 1
    claims = [call for call in kfp_server.calls if call.method == "POST" and call.path.endswith("/experiments")]
    assert [call.status for call in claims].count(409) == takers - 1  # the API's uniqueness decided


def test_a_grace_no_longer_than_the_run_create_timeout_is_refused(kfp_server):
    with pytest.raises(ChurnopsError, match="must be longer than the run create's timeout"):
        trigger(kfp_server, grace_seconds=defaults.RETRAIN_RUN_CREATE_TIMEOUT_SECONDS)
    assert kfp_server.calls == []
