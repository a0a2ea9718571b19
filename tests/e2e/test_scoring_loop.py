"""The loop, run by KFP's local runner: score -> publish to output_uri -> drift check -> retrain trigger.

The trigger talks over HTTP to the KFP double (tests/support/kfp_server.py) started by the test;
its clock is set to the real time, since the step processes read the real clock.
"""

from __future__ import annotations

import time

import mlflow
import pandas as pd
import pytest
from support import retrain_target
from support.drift_batches import write_batches
from support.kfp_server import FakeKfpServer
from support.retrain_target import TARGET

from churnops import names
from churnops.app import runs
from churnops.app.cli import main
from churnops.app.local_runner import run_locally
from churnops.errors import ChurnopsError
from pipelines.inference import inference_pipeline

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def batches(synthetic_csv, tmp_path_factory):
    return write_batches(synthetic_csv, tmp_path_factory.mktemp("scoring-batches"), seed=11)


@pytest.fixture
def kfp_server(tmp_path):
    with FakeKfpServer() as server:
        server.now = int(time.time())
        server.experiment_id = retrain_target.seed(server, retrain_target.compile_training(tmp_path / "training.yaml"))
        yield server


def predict(trained_run, batch, output, **drift):
    options = runs.DriftOptions(**drift)
    return runs.predict("models:/churn-classifier@champion", str(batch), str(output),
                        tracking_uri=trained_run["tracking_uri"], home=trained_run["home"], drift=options)


def test_a_drifted_batch_is_reported_and_triggers_one_retrain_within_the_window(trained_run, batches, kfp_server, tmp_path):
    first = predict(trained_run, batches / "drifted.csv", tmp_path / "a.csv", kfp_host=kfp_server.url,
                    retrain_recurring_run=TARGET, retrain_window_seconds=3600)
    drift = first["drift"]
    assert drift["verdict"] == "drifted" and sorted(drift["drifted_features"]) == ["Contract", "MonthlyCharges", "tenure"]
    assert ">drifted</span>" in open(drift["report_path"], encoding="utf-8").read()
    assert drift["retrain_decision"] == "trigger"
    [started] = kfp_server.state.runs.values()
    assert started["run_id"] == drift["retrain_run_id"] and started["experiment_id"] == kfp_server.experiment_id
    assert f"report={drift['report_uri']}" in started["description"]

    second = predict(trained_run, batches / "drifted.csv", tmp_path / "b.csv", kfp_host=kfp_server.url,
                     retrain_recurring_run=TARGET, retrain_window_seconds=3600)
    assert second["drift"]["verdict"] == "drifted" and second["drift"]["retrain_decision"] == "skip"
    assert second["drift"]["retrain_reason"].startswith("storm guard:")
    assert len(kfp_server.state.runs) == 1

    client = mlflow.MlflowClient(tracking_uri=trained_run["tracking_uri"])
    tags = client.get_run(second["drift"]["drift_run_id"]).data.tags
    assert tags[names.RUN_TAG_MODEL_VERSION] == first["model_version"]
    assert tags[names.RUN_TAG_RETRAIN_DECISION] == "skip"


def test_check_drift_on_the_command_line_prints_the_verdict_and_report_and_never_calls_kfp(trained_run, batches, tmp_path,
                                                                                           capsys, monkeypatch):
    monkeypatch.setenv("CHURNOPS_HOME", str(trained_run["home"]))
    code = main(["predict", "--input", str(batches / "ok.csv"), "--output", str(tmp_path / "ok.csv"), "--check-drift",
                 "--tracking-uri", trained_run["tracking_uri"]])
    out = capsys.readouterr().out
    assert code == 0
    assert f"  drift: ok; report: {tmp_path / 'ok.drift.html'}" in out
    assert "retrain: skip (verdict is ok" in out and (tmp_path / "ok.drift.html").exists()


def test_the_pipeline_publishes_to_output_uri_the_rows_it_scored(trained_run, batches, tmp_path):
    target = tmp_path / "bucket" / "predictions" / "2026-01-05.csv"
    summary = run_locally(inference_pipeline, {
        "model_uri": "models:/churn-classifier@champion", "input_uri": str(batches / "ok.csv"),
        "mlflow_tracking_uri": trained_run["tracking_uri"], "output_uri": str(target), "drift_check": False,
    }, trained_run["home"], result_task="batch-predict")
    published = pd.read_csv(target, dtype=str)
    assert published.equals(pd.read_csv(summary["predictions_path"], dtype=str)) and len(published) == 1000
    assert sorted(p.name for p in target.parent.iterdir()) == ["2026-01-05.csv"]  # no temporary left


def test_each_run_publishes_to_the_object_of_its_own_scheduled_time(trained_run, batches, tmp_path):
    """Issue 23: `{scheduled_time}` in output_uri (a local run: the time the run started, the same
    in every step); two runs, two objects, nothing overwritten."""
    template = str(tmp_path / "predictions" / "{scheduled_time}.csv")
    arguments = {"model_uri": "models:/churn-classifier@champion", "input_uri": str(batches / "ok.csv"),
                 "mlflow_tracking_uri": trained_run["tracking_uri"], "output_uri": template, "drift_check": False}
    names_seen = []
    for _ in range(2):
        started = time.time()
        run_locally(inference_pipeline, arguments, trained_run["home"], result_task="batch-predict")
        (newest,) = set((tmp_path / "predictions").iterdir()) - set(names_seen)
        names_seen.append(newest)
        stamp = time.mktime(time.strptime(newest.stem, "%Y%m%dT%H%M%SZ")) - time.timezone
        assert started - 2 <= stamp <= time.time(), newest.name
        time.sleep(1.1)  # the names have one-second resolution
    assert len(names_seen) == 2 and all(len(pd.read_csv(path)) == 1000 for path in names_seen)


def test_a_drift_step_killed_with_its_run_open_leaves_no_running_run(trained_run, batches, tmp_path, monkeypatch):
    """The inference pipeline's exit handler (issue 16): `churnops predict` sweeps nothing itself, and
    the drift step is killed (os._exit, as an OOM kill) right after it opened its MLflow run."""
    monkeypatch.setenv(names.ENV_CRASH_AT, "drift:after-create-run")
    with pytest.raises(ChurnopsError, match="pipeline churn-inference failed"):
        predict(trained_run, batches / "ok.csv", tmp_path / "out.csv", experiment="drift-killed")
    client = mlflow.MlflowClient(tracking_uri=trained_run["tracking_uri"])
    experiment = client.get_experiment_by_name("drift-killed")
    runs_left = client.search_runs([experiment.experiment_id])
    assert len(runs_left) == 1, "the drift step opened no run before it was killed: the case tests nothing"
    run = runs_left[0]
    assert run.data.tags[names.RUN_TAG_STEP] == names.STEP_CHECK_DRIFT
    assert run.info.status == "FAILED"
    assert run.data.tags[names.RUN_TAG_ENDED_BY] == names.ENDED_BY_EXIT_HANDLER
    assert f"KFP run {run.data.tags[names.RUN_TAG_KFP_RUN_ID]} ended FAILED" in run.data.tags[names.RUN_TAG_SWEPT]
