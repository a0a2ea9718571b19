"""Cross-validation on the training split and the nested MLflow runs of a search, on a real store."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from churnops.core import data
from churnops.core.cross_validation import cross_validate
from churnops.core.search_space import DEFAULT_SEARCH_SPACE, candidate_order, expand, select_best
from churnops.errors import DatasetError
from churnops.steps import score_model_family, start_candidate_search
from churnops.steps.train_model import log_selection
from churnops.storage.datasets import read_dataset


@pytest.fixture
def split_of(make_churn_dataset, tmp_path):
    """The training split of a generated dataset, read the way the pipeline reads files."""

    def split(shape: str):
        frame, target = make_churn_dataset(shape)
        path = tmp_path / f"{shape}.csv"
        frame.to_csv(path, index=False)
        return data.split_dataset(read_dataset(str(path)), target, 0.2)

    return split


@pytest.mark.parametrize("shape", ["many_categoricals", "numeric_only", "messy", "interaction"])
def test_every_default_candidate_scores_other_schemas_with_no_configuration(shape, split_of):
    split = split_of(shape)
    scores = [
        cross_validate(split.x_train, split.y_train, candidate, folds=3)
        for family in DEFAULT_SEARCH_SPACE
        for candidate in expand(family)
    ]
    assert all(0.6 < score["cv_roc_auc"] <= 1.0 or shape == "interaction" for score in scores)
    assert all(len(score["cv_fold_roc_auc"]) == 3 for score in scores)
    best = select_best(scores, candidate_order(DEFAULT_SEARCH_SPACE))
    assert best["cv_roc_auc"] > 0.7


def test_search_picks_a_tree_ensemble_where_interactions_carry_the_signal(split_of):
    split = split_of("interaction")
    scores = [cross_validate(split.x_train, split.y_train, candidate)
              for family in DEFAULT_SEARCH_SPACE for candidate in expand(family)]
    best = select_best(scores, candidate_order(DEFAULT_SEARCH_SPACE))
    linear = max(score["cv_roc_auc"] for score in scores if score["model_type"] == "logistic_regression")
    assert best["model_type"] != "logistic_regression"
    assert best["cv_roc_auc"] > linear + 0.2


def test_too_few_rows_of_a_class_for_the_folds_names_the_fix():
    x = pd.DataFrame({"x": [str(i) for i in range(30)]})
    y = pd.Series([1, 1] + [0] * 28)
    with pytest.raises(DatasetError, match=r"2 row\(s\) of its smaller class, fewer than the 3.*--cv-folds"):
        cross_validate(x, y, {"name": "lr", "model_type": "logistic_regression"}, folds=3)


@pytest.fixture
def split_files(tmp_path, split_of):
    split = split_of("messy")
    x_path, y_path = tmp_path / "x_train.csv", tmp_path / "y_train.csv"
    split.x_train.to_csv(x_path, index=False)
    split.y_train.to_frame().to_csv(y_path, index=False)
    return str(x_path), str(y_path)


def test_each_candidate_is_a_finished_child_run_of_the_search_run(tracking_uri, split_files):
    space = [{"model_type": "logistic_regression", "grid": [{"C": 0.1}, {"C": 1.0}]}]
    parent = start_candidate_search.run(tracking_uri, "search-test", "m", space, 3, {"dataset_sha256": "abc"})
    result = score_model_family.run(*split_files, space[0], parent, 3, 42)
    client = mlflow.MlflowClient()
    parent_run = client.get_run(parent["run_id"])
    assert parent_run.info.status == "RUNNING"  # the training step reopens and ends it
    assert parent_run.data.params["search_n_candidates"] == "2"
    assert parent_run.data.params["dataset_sha256"] == "abc"
    children = client.search_runs([parent["experiment_id"]], f"tags.mlflow.parentRunId = '{parent['run_id']}'")
    assert {run.info.run_name for run in children} == {"logistic_regression(C=0.1)", "logistic_regression(C=1)"}
    assert {run.info.status for run in children} == {"FINISHED"}
    by_id = {run.info.run_id: run for run in children}
    for score in result["scores"]:
        child = by_id[score["run_id"]]
        assert child.data.metrics["cv_roc_auc"] == pytest.approx(score["cv_roc_auc"])
        assert child.data.params["model_type"] == "logistic_regression"
        history = client.get_metric_history(child.info.run_id, "cv_fold_roc_auc")
        assert [point.step for point in history] == [0, 1, 2]

    chosen = {**select_best(result["scores"]), "leaderboard": result["scores"]}
    log_selection(parent["run_id"], chosen)
    parent_run = client.get_run(parent["run_id"])
    assert parent_run.data.params["search_selected"] == chosen["name"]
    assert json.loads(parent_run.data.tags["churnops.selected_candidate"])["name"] == chosen["name"]
    board = mlflow.artifacts.load_dict(f"{parent_run.info.artifact_uri}/search/leaderboard.json")
    assert board[0]["cv_roc_auc"] == max(score["cv_roc_auc"] for score in result["scores"])


def test_a_failing_candidate_marks_its_child_run_failed(tracking_uri, tmp_path):
    x_path, y_path = tmp_path / "x.csv", tmp_path / "y.csv"
    pd.DataFrame({"x": range(30)}).to_csv(x_path, index=False)
    pd.DataFrame({"Churn": [1, 1] + [0] * 28}).to_csv(y_path, index=False)
    family = {"model_type": "logistic_regression"}
    parent = start_candidate_search.run(tracking_uri, "search-fail", "m", [family], 3, {})
    with pytest.raises(DatasetError, match="fewer than the 3"):
        score_model_family.run(str(x_path), str(y_path), family, parent, 3, 42)
    children = mlflow.MlflowClient().search_runs(
        [parent["experiment_id"]], f"tags.mlflow.parentRunId = '{parent['run_id']}'")
    assert [run.info.status for run in children] == ["FAILED"]


def test_integer_hyperparameters_are_logged_as_ints_and_the_leaderboard_starts_with_the_winner(
        tracking_uri, split_files):
    # What KFP hands train_model: the winner and the leaderboard after a protobuf Struct (200 -> 200.0).
    space = [{"model_type": "random_forest", "grid": [{"n_estimators": 20, "min_samples_leaf": 5},
                                                      {"n_estimators": 30, "min_samples_leaf": 5}]}]
    parent = start_candidate_search.run(tracking_uri, "search-ints", "m", space, 3, {})
    scores = score_model_family.run(*split_files, space[0], parent, 3, 42)["scores"]
    # A tie within TIE_TOLERANCE keeps the earlier (simpler) candidate even when its mean is a hair lower.
    scores[0]["cv_roc_auc"], scores[1]["cv_roc_auc"] = 0.80000, 0.80005
    as_struct = [{**s, "hyperparameters": {k: float(v) for k, v in s["hyperparameters"].items()}} for s in scores]
    chosen = {**select_best(as_struct, candidate_order(space)), "leaderboard": as_struct}
    assert chosen["name"] == scores[0]["name"]
    from churnops.steps import train_model

    train_model.run(*split_files, {}, tracking_uri, "search-ints", "m", "random_forest", {}, 42,
                    candidate={**chosen, "run_id": parent["run_id"]})
    run = mlflow.MlflowClient().get_run(parent["run_id"])
    assert run.data.params["hp_n_estimators"] == "20" and run.data.params["hp_min_samples_leaf"] == "5"
    assert json.loads(run.data.tags["churnops.selected_candidate"])["hyperparameters"] == {
        "min_samples_leaf": 5, "n_estimators": 20}
    board = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/search/leaderboard.json")
    assert [(e["rank"], e["selected"], e["name"]) for e in board] == [
        (1, True, scores[0]["name"]), (2, False, scores[1]["name"])]
    assert board[0]["hyperparameters"] == {"min_samples_leaf": 5, "n_estimators": 20}


def test_halving_scores_the_survivor_on_the_final_budget_and_records_who_went_out_when(tracking_uri, split_files):
    space = [{"model_type": "logistic_regression", "grid": [{"C": 0.01}, {"C": 1.0}, {"C": 100.0}]}]
    budget = {"strategy": "halving", "factor": 3, "max_rows": 0, "min_rows": 50}
    parent = start_candidate_search.run(tracking_uri, "search-halving", "m", space, 3, {}, budget=budget)
    result = score_model_family.run(*split_files, space[0], parent, 3, 42, budget)
    rows = len(pd.read_csv(split_files[0]))
    assert result["rounds"] == [{"rows": rows // 3, "settings": 3}, {"rows": rows, "settings": 1}]
    final = [score for score in result["scores"] if score["cv_rows"] == rows]
    out = [score for score in result["scores"] if score["cv_rows"] == rows // 3]
    assert len(final) == 1 and len(out) == 2
    # The survivor was the best of the first round.
    client = mlflow.MlflowClient()
    first_round = {score["name"]: client.get_metric_history(score["run_id"], "cv_roc_auc")[0].value
                   for score in result["scores"]}
    assert first_round[final[0]["name"]] == max(first_round.values())
    survivor = client.get_run(final[0]["run_id"])
    assert [(p.step, p.value) for p in client.get_metric_history(survivor.info.run_id, "cv_rows")] == [
        (0, rows // 3), (1, rows)]
    assert "churnops.halving_round_out" not in survivor.data.tags
    assert {client.get_run(score["run_id"]).data.tags["churnops.halving_round_out"] for score in out} == {"0"}
    assert parent["run_id"] and client.get_run(parent["run_id"]).data.params["search_strategy"] == "halving"
    # Only the final budget competes, whatever a small subsample said.
    assert select_best(result["scores"])["name"] == final[0]["name"]


def test_a_bad_budget_is_refused_before_the_search_opens_a_run(tracking_uri):
    from churnops.errors import ChurnopsError

    with pytest.raises(ChurnopsError, match="search_budget factor must be a whole number >= 2"):
        start_candidate_search.run(tracking_uri, "search-bad", "m", DEFAULT_SEARCH_SPACE, 3, {}, budget={"factor": 1})
    assert mlflow.MlflowClient().get_experiment_by_name("search-bad") is None
