"""The search components through `.python_func`, with real artifacts and a real MLflow store:
start -> score each family -> select -> train the winner into the parent run."""

from __future__ import annotations

import json

import mlflow
import pytest
from kfp import dsl
from support.artifacts import artifact

from churnops import defaults
from components import (
    load_and_preprocess_data,
    score_model_family,
    select_best_candidate,
    single_model,
    start_candidate_search,
    train_model,
)

SPACE = [
    {"model_type": "logistic_regression", "grid": [{"C": 0.1}, {"C": 1.0}]},
    {"model_type": "random_forest", "grid": [{"n_estimators": 30, "min_samples_leaf": 10}]},
]


@pytest.fixture
def split(tmp_path, churn_dataset_csv):
    path, target = churn_dataset_csv("messy")
    outputs = {name: artifact(dsl.Dataset, tmp_path, name) for name in ("x_train", "y_train", "x_test", "y_test")}
    load_and_preprocess_data.python_func(dataset_uri=str(path), test_size_ratio=0.2, target_column=target,
                                         random_state=42, positive_label="", **outputs)
    return outputs


def test_search_chain_refits_the_best_candidate_into_the_parent_run(tmp_path, split, tracking_uri):
    search_run = artifact(dsl.Artifact, tmp_path, "search_run")
    start_candidate_search.python_func(
        x_train=split["x_train"], mlflow_tracking_uri=tracking_uri, mlflow_experiment_name="search",
        model_name="m", search_space=SPACE, cv_folds=3,
        search_budget=defaults.SEARCH_BUDGET, kfp_run_id="kfp-run-7", search_run=search_run,
    )
    parent_id = search_run.metadata["run_id"]
    assert open(search_run.path).read() == parent_id
    assert search_run.metadata["kfp_run_id"] == "kfp-run-7"  # handed on to the candidates' runs

    results = [
        score_model_family.python_func(x_train=split["x_train"], y_train=split["y_train"], search_run=search_run,
                                       family=family, cv_folds=3, random_state=42,
                                       search_budget=defaults.SEARCH_BUDGET)
        for family in reversed(SPACE)  # finishing order does not matter
    ]
    chosen = select_best_candidate.python_func(family_scores=results, search_space=SPACE, search_run=search_run)
    all_scores = [score for result in results for score in result["scores"]]
    # Every run the search opened carries the KFP run's id: the exit handler's key.
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    assert {client.get_run(run_id).data.tags.get("kfp.run_id")
            for run_id in [parent_id, *(score["run_id"] for score in all_scores)]} == {"kfp-run-7"}
    # Successive halving: only the scores on the final row budget compete.
    final = max(score["cv_rows"] for score in all_scores)
    assert chosen["cv_roc_auc"] == max(score["cv_roc_auc"] for score in all_scores if score["cv_rows"] == final)
    assert chosen["run_id"] == parent_id and len(chosen["leaderboard"]) == 3

    model = artifact(dsl.Model, tmp_path, "model")
    train_model.python_func(
        x_train=split["x_train"], y_train=split["y_train"], x_test=split["x_test"], mlflow_tracking_uri=tracking_uri,
        mlflow_experiment_name="search", model_name="m", model=model, candidate=chosen,
        model_type="auto", hyperparameters={}, random_state=42,
    )
    assert model.metadata["run_id"] == parent_id  # the parent run holds the final model
    assert model.metadata["model_type"] == chosen["model_type"]
    parent = mlflow.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["search_selected"] == chosen["name"]
    assert parent.data.params["model_type"] == chosen["model_type"]
    assert json.loads(parent.data.tags["churnops.selected_candidate"])["hyperparameters"] == chosen["hyperparameters"]
    logged = mlflow.models.get_model_info(model.metadata["model_uri"])
    assert logged.run_id == parent_id
    # Identifiers are no features: the pyfunc accepts them (raw rows as users have them) but does not need them.
    required = {spec.name for spec in logged.signature.inputs.inputs if spec.required}
    assert "account_id" not in required and "Unnamed: 0" not in required
    assert {"monthly_spend", "support_calls", "plan"} <= required


def test_single_model_mode_passes_the_named_model_on():
    assert single_model.python_func(model_type="random_forest", hyperparameters={"n_estimators": 50}) == {
        "name": "random_forest(n_estimators=50)", "model_type": "random_forest",
        "hyperparameters": {"n_estimators": 50},
    }
