"""The search space, its checks, and how the winner is chosen."""

from __future__ import annotations

import pytest

from churnops.core.search_space import (
    DEFAULT_SEARCH_SPACE,
    candidate_order,
    check_search_space,
    expand,
    flatten,
    select_best,
    single_candidate,
)
from churnops.errors import ChurnopsError


def score(name: str, auc: float | None) -> dict:
    return {"name": name, "model_type": "logistic_regression", "hyperparameters": {}, "cv_roc_auc": auc}


def test_default_space_has_the_three_families_with_small_grids():
    assert check_search_space(DEFAULT_SEARCH_SPACE) is DEFAULT_SEARCH_SPACE
    assert [family["model_type"] for family in DEFAULT_SEARCH_SPACE] == [
        "logistic_regression", "random_forest", "hist_gradient_boosting"]
    names = candidate_order(DEFAULT_SEARCH_SPACE)
    assert len(names) == len(set(names)) == 7
    assert names[:3] == ["logistic_regression(C=0.1)", "logistic_regression(C=1)", "logistic_regression(C=10)"]


def test_candidates_are_named_alike_after_a_trip_through_a_kfp_parameter():
    # KFP hands dict parameters back with sorted keys and whole numbers as floats.
    sent = {"model_type": "random_forest", "grid": [{"n_estimators": 200, "min_samples_leaf": 5}]}
    received = {"model_type": "random_forest", "grid": [{"min_samples_leaf": 5.0, "n_estimators": 200.0}]}
    assert expand(sent) == expand(received)
    assert expand(received)[0]["name"] == "random_forest(min_samples_leaf=5,n_estimators=200)"


def test_a_family_without_grid_is_one_candidate_with_the_estimator_defaults():
    assert expand({"model_type": "random_forest"}) == [
        {"name": "random_forest()", "model_type": "random_forest", "hyperparameters": {}}]
    assert single_candidate("logistic_regression", {"C": 0.5})["name"] == "logistic_regression(C=0.5)"


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ([], r"search space is empty"),
        ("logistic_regression", r"search space is empty"),
        ([{"grid": [{"C": 1.0}]}], r"must be an object with 'model_type'"),
        ([{"model_type": "logistic_regression", "grids": []}], r"must be an object with 'model_type'"),
        ([{"model_type": "xgboost"}], r"unknown model_type 'xgboost'; choose one of"),
        ([{"model_type": "random_forest", "grid": {"n_estimators": 5}}], r"'grid' must be a list of objects"),
        ([{"model_type": "random_forest"}, {"model_type": "random_forest"}], r"repeats model_type.*one grid"),
        ([{"model_type": "logistic_regression", "grid": [{"C": 1.0}, {"depth": 3}]}],
         r"#1.*logistic_regression\(depth=3\).*\['depth'\] are not used by logistic_regression; it accepts"),
    ],
)
def test_bad_search_spaces_are_refused_naming_the_entry_and_fix(space, message):
    with pytest.raises(ChurnopsError, match=message):
        check_search_space(space)


def test_best_mean_cv_score_wins_whatever_order_tasks_finished_in():
    scores = [score("b", 0.80), score("c", 0.85), score("a", 0.70)]
    assert select_best(scores, ["a", "b", "c"])["name"] == "c"


def test_a_tie_goes_to_the_earlier_simpler_candidate():
    scores = [score("forest", 0.84005), score("logreg", 0.84)]
    assert select_best(scores, ["logreg", "forest"])["name"] == "logreg"
    assert select_best([score("forest", 0.8402), score("logreg", 0.84)], ["logreg", "forest"])["name"] == "forest"


def test_candidates_without_a_score_are_skipped_and_none_at_all_is_an_error():
    assert select_best([score("a", float("nan")), score("b", 0.6)], ["a", "b"])["name"] == "b"
    with pytest.raises(ChurnopsError, match=r"No candidate produced a cross-validation score.*\['a'\]"):
        select_best([score("a", None)], ["a"])


def test_flatten_collects_every_family_result():
    results = [{"model_type": "x", "scores": [score("a", 0.1)]}, {"model_type": "y", "scores": [score("b", 0.2)]}]
    assert [item["name"] for item in flatten(results)] == ["a", "b"]
