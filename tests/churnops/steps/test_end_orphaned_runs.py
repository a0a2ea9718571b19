"""The exit handler's step on a real (SQLite) MLflow store: it ends exactly its own KFP run's RUNNING runs."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import pytest
from support.paths import REPO

from churnops import names
from churnops.errors import TrackingError
from churnops.registry.tracking import ensure_experiment
from churnops.steps import end_orphaned_runs

OWN, OTHER = "3f2a-own-kfp-run", "9c1b-other-kfp-run"


@pytest.fixture
def store(tracking_uri):
    """Runs of two KFP runs and one run without a KFP tag, RUNNING and finished, in the experiment."""
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment = ensure_experiment(tracking_uri, "churn")
    elsewhere = ensure_experiment(tracking_uri, "someone-else")

    def run(kfp_run_id: str | None, status: str | None = None, experiment_id: str = experiment) -> str:
        tags = {names.RUN_TAG_STEP: "train", **({names.RUN_TAG_KFP_RUN_ID: kfp_run_id} if kfp_run_id else {})}
        run_id = client.create_run(experiment_id, tags=tags).info.run_id
        if status:
            client.set_terminated(run_id, status)
        return run_id

    parent = run(OWN)
    runs = {
        "own_running": [parent, client.create_run(experiment, tags={
            names.RUN_TAG_KFP_RUN_ID: OWN, names.RUN_TAG_PARENT: parent}).info.run_id],
        "own_finished": [run(OWN, "FINISHED"), run(OWN, "KILLED")],
        "other_running": [run(OTHER), run(None)],
        "other_finished": [run(OTHER, "FINISHED")],
        # The pipeline's steps write only to its experiment; the handler looks nowhere else.
        "other_experiment": [run(OWN, experiment_id=elsewhere)],
    }
    return client, tracking_uri, runs


def snapshot(client, run_ids):
    return {run_id: (client.get_run(run_id).info.status, dict(client.get_run(run_id).data.tags)) for run_id in run_ids}


@pytest.mark.parametrize("state", ["FAILED", "RUNNING", "CANCELED"])
def test_a_run_that_did_not_succeed_ends_its_own_running_runs_and_nothing_else(store, state, event_sink):
    client, uri, runs = store
    untouched = runs["own_finished"] + runs["other_running"] + runs["other_finished"] + runs["other_experiment"]
    before = snapshot(client, untouched)

    result = end_orphaned_runs.run(state, uri, "churn", OWN, task_name="exit-handler-1")

    assert sorted(result["ended_runs"]) == sorted(runs["own_running"])
    for run_id in runs["own_running"]:
        run = client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert run.info.end_time is not None
        assert run.data.tags[names.RUN_TAG_ENDED_BY] == names.ENDED_BY_EXIT_HANDLER
        assert f"KFP run {OWN} ended {state}" in run.data.tags[names.RUN_TAG_SWEPT]
    assert snapshot(client, untouched) == before, "a run of another KFP run, or a finished one, was changed"
    assert event_sink.kinds() == ["pipeline.failed"]  # issue 27: the failure is announced


@pytest.mark.parametrize("state", ["SUCCEEDED", "COMPLETE", "CACHED"])
def test_a_run_that_succeeded_changes_nothing(store, state):
    client, uri, runs = store
    every = [run_id for group in runs.values() for run_id in group]
    before = snapshot(client, every)

    assert end_orphaned_runs.run(state, uri, "churn", OWN) == {"state": state, "ended_runs": []}
    assert snapshot(client, every) == before


def test_on_success_the_step_does_not_even_import_mlflow(tmp_path):
    """What every successful pipeline run pays for the exit task: no MLflow import, no store access."""
    code = ("import sys; from churnops.steps import end_orphaned_runs as s; "
            f"print(s.run('SUCCEEDED', 'sqlite:///{tmp_path}/absent.db', 'churn', 'x')['ended_runs'], "
            "'mlflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "False"]
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize("kfp_run_id", ["", "{{$.pipeline_job_uuid}}"])
def test_an_unfilled_kfp_run_id_is_refused_naming_the_fix(store, kfp_run_id):
    client, uri, runs = store
    with pytest.raises(TrackingError, match="PIPELINE_JOB_ID_PLACEHOLDER"):
        end_orphaned_runs.run("FAILED", uri, "churn", kfp_run_id)
    assert all(client.get_run(run_id).info.status == "RUNNING" for run_id in runs["own_running"])


def test_no_experiment_yet_means_nothing_to_end(tracking_uri):
    assert end_orphaned_runs.run("FAILED", tracking_uri, "never-created", OWN)["ended_runs"] == []
