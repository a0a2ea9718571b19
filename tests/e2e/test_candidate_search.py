"""The default training pipeline (candidate search) run by KFP's local runner, read back from MLflow."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest
import yaml

from churnops.app import runs
from churnops.core.search_space import DEFAULT_SEARCH_SPACE, TIE_TOLERANCE, candidate_order

pytestmark = pytest.mark.e2e


def children_of(client: mlflow.MlflowClient, run) -> list:
    return client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'", max_results=100
    )


def test_default_run_searches_every_candidate_as_a_nested_run(trained_run):
    client = mlflow.MlflowClient(tracking_uri=trained_run["tracking_uri"])
    parent = client.get_run(trained_run["run_id"])
    children = children_of(client, parent)
    assert sorted(run.info.run_name for run in children) == sorted(candidate_order(DEFAULT_SEARCH_SPACE))
    assert {run.info.status for run in children} == {"FINISHED"}
    # The registered version is the parent run's model: the refit winner, with holdout metrics.
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["test_roc_auc"] == pytest.approx(trained_run["metrics"]["roc_auc"])
    best = max(run.data.metrics["cv_roc_auc"] for run in children)
    assert parent.data.metrics["cv_roc_auc"] >= best - TIE_TOLERANCE
    winner = next(run for run in children if run.info.run_name == parent.data.params["search_selected"])
    assert winner.data.params["model_type"] == parent.data.params["model_type"]
    selection = trained_run["selection"]
    assert selection["mode"] == "search" and selection["n_candidates"] == len(children)
    assert selection["candidate"] == winner.info.run_name


@pytest.mark.parametrize("shape", ["messy"])
def test_defaults_train_another_schema_with_only_the_dataset_and_target(shape, churn_dataset_csv, tmp_path):
    path, target = churn_dataset_csv(shape)
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    try:
        result = runs.train(str(path), target=target, home=tmp_path / "home")
    finally:  # runs.train points this process at its store; other tests read the shared run's
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    assert result["metrics"]["roc_auc"] > 0.7
    client = mlflow.MlflowClient(tracking_uri=result["tracking_uri"], registry_uri=result["tracking_uri"])
    artifacts = client.get_logged_model(result["logged_model_uri"].removeprefix("models:/")).artifact_location
    signature = yaml.safe_load((Path(urlparse(artifacts).path) / "MLmodel").read_text())["signature"]
    # Identifiers are accepted (raw rows carry them) but never required features.
    required = {column["name"] for column in json.loads(signature["inputs"]) if column.get("required", True)}
    assert required == {"plan", "monthly_spend", "support_calls"}  # no account_id, no row number
    run = client.get_run(result["run_id"])
    assert run.data.params["positive_label"] == "True"
