"""Issue 16, Why 2 on a cluster: the training pipeline's exit handler ends the MLflow runs its own KFP run left RUNNING.

The pipeline runs with kfp.local (which runs dsl.ExitHandler tasks after the body, failed or not:
kfp/local/orchestrator/enhanced_dag_orchestrator.py run_enhanced_dag) through run_locally directly,
not `churnops train`: no owner sweep runs before or after, so only the exit handler can end a run.
The train step is killed with os._exit while its MLflow run is open (CHURNOPS_CRASH_AT), as an
OOM kill or an eviction would: none of the step's own exit code runs.
"""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from churnops import defaults, names
from churnops.app.local_runner import run_locally
from churnops.errors import ChurnopsError
from churnops.registry.tracking import embedded_tracking_uri, ensure_experiment
from pipelines.training import training_pipeline

pytestmark = pytest.mark.e2e


def arguments(dataset, uri, **overrides):
    return {"dataset_uri": str(dataset), "mlflow_tracking_uri": uri, "mlflow_experiment_name": "churn",
            "model_type": "logistic_regression", "hyperparameters": {"C": 1.0},
            "promotion_thresholds": dict(defaults.PROMOTION_THRESHOLDS), **overrides}


def test_a_step_killed_with_its_run_open_leaves_no_running_run_and_others_are_untouched(tmp_path, synthetic_csv,
                                                                                       monkeypatch):
    home = tmp_path / "home"
    uri = embedded_tracking_uri(home)
    dataset = tmp_path / "small.csv"
    pd.read_csv(synthetic_csv).head(400).to_csv(dataset, index=False)
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = ensure_experiment(uri, "churn")
    # Another KFP run's step, still running (a pipeline beside this one): must stay RUNNING.
    bystander = client.create_run(experiment, tags={names.RUN_TAG_STEP: "train",
                                                    names.RUN_TAG_KFP_RUN_ID: "another-kfp-run"}).info.run_id

    monkeypatch.setenv(names.ENV_CRASH_AT, "train:after-start-run")
    with pytest.raises(ChurnopsError, match="pipeline churn-training failed"):
        run_locally(training_pipeline, arguments(dataset, uri), home, result_task="register-model")

    runs = client.search_runs([experiment], f"tags.`{names.RUN_TAG_STEP}` = 'train'")
    killed = [run for run in runs if run.info.run_id != bystander]
    assert len(killed) == 1, "the train step opened no run before it was killed: the case tests nothing"
    killed = killed[0]
    assert killed.info.status == "FAILED"
    kfp_run_id = killed.data.tags[names.RUN_TAG_KFP_RUN_ID]  # the run was tagged when it opened
    assert kfp_run_id and not kfp_run_id.startswith("{{")
    # Only tracking.end_kfp_run_orphans (the exit handler's step) writes this value.
    assert killed.data.tags[names.RUN_TAG_ENDED_BY] == names.ENDED_BY_EXIT_HANDLER
    assert f"KFP run {kfp_run_id} ended FAILED" in killed.data.tags[names.RUN_TAG_SWEPT]
    assert client.get_run(bystander).info.status == "RUNNING"
    assert names.RUN_TAG_ENDED_BY not in client.get_run(bystander).data.tags


def test_a_failed_search_leaves_no_running_parent_run(tmp_path):
    """Constant features: every candidate fails, the search's parent run (left RUNNING for the
    train step) is ended by the exit handler, with no owner sweep."""
    home = tmp_path / "home"
    uri = embedded_tracking_uri(home)
    constant = tmp_path / "constant.csv"
    pd.DataFrame({"plan": ["a"] * 10, "usage": [1.0] * 10, "Churn": ["Yes", "No"] * 5}).to_csv(constant, index=False)

    with pytest.raises(ChurnopsError, match="pipeline churn-training failed"):
        run_locally(training_pipeline, arguments(constant, uri, model_type="auto", hyperparameters={}), home,
                    result_task="register-model")

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("churn").experiment_id
    runs = client.search_runs([experiment])
    parents = [run for run in runs if run.data.tags.get(names.RUN_TAG_STEP) == "search"]
    assert len(parents) == 1, "the search opened no parent run: the case tests nothing"
    assert [run.info.status for run in runs if run.info.status == "RUNNING"] == []
    assert parents[0].data.tags[names.RUN_TAG_ENDED_BY] == names.ENDED_BY_EXIT_HANDLER
    kfp_run_id = parents[0].data.tags[names.RUN_TAG_KFP_RUN_ID]
    # Every run this KFP run opened carries its id (the candidates' runs included).
    assert {run.data.tags.get(names.RUN_TAG_KFP_RUN_ID) for run in runs} == {kfp_run_id}
