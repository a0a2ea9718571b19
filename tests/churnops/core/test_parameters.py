"""The training-parameter rules shared by `churnops train`, `--check` and the pipeline (issue 12, problem 8)."""

from __future__ import annotations

import pytest

from churnops import defaults
from churnops.core.evaluation import METRIC_NAMES
from churnops.core.parameters import (
    HYPERPARAMETER_RULES,
    PROMOTION_METRICS,
    accepted_hyperparameters,
    training_parameter_problems,
)
from churnops.core.search_space import DEFAULT_SEARCH_SPACE, MODEL_TYPES


@pytest.mark.parametrize(("parameters", "named"), [
    ({"model_type": "xgboost"}, "model_type 'xgboost'"),
    ({"model_type": "logistic_regression", "hyperparameters": {"C": "big"}}, "'C'"),
    ({"model_type": "logistic_regression", "hyperparameters": {"C": -1}}, "'C'"),
    ({"model_type": "logistic_regression", "hyperparameters": {"n_estimators": 5}}, "'n_estimators'"),
    ({"model_type": "random_forest", "hyperparameters": {"n_estimators": 2.5}}, "'n_estimators'"),
    ({"model_type": "random_forest", "hyperparameters": {"n_estimators": True}}, "'n_estimators'"),
    ({"model_type": "hist_gradient_boosting", "hyperparameters": {"learning_rate": 1.5}}, "'learning_rate'"),
    ({"model_type": "auto", "hyperparameters": {"C": 1.0}}, "candidate search"),
    ({"test_size_ratio": 1.5}, "test_size_ratio"),
    ({"test_size_ratio": 0}, "test_size_ratio"),
    ({"decision_threshold": 1.0}, "decision_threshold"),
    ({"search_cv_folds": 1}, "search_cv_folds"),
    ({"promotion_thresholds": {"auc": 0.7}}, "'auc'"),
    ({"promotion_thresholds": {"roc_auc": 75}}, "'roc_auc'"),
    ({"promotion_metric": "speed"}, "'speed'"),
    ({"promotion_min_test_rows": -1}, "promotion_min_test_rows"),
    ({"promotion_min_test_rows": 12.5}, "promotion_min_test_rows"),
    ({"promotion_min_test_rows": True}, "promotion_min_test_rows"),
    ({"promotion_min_class_rows": "30"}, "promotion_min_class_rows"),
    # 30 of each class need 60 rows: a minimum of 20 rows would not lower what the gate asks.
    ({"promotion_min_test_rows": 20, "promotion_min_class_rows": 30}, "needs at least 60 test rows"),
])
def test_each_bad_value_is_named_with_what_is_accepted(parameters, named):
    problems = training_parameter_problems(parameters)
    assert len(problems) == 1, problems
    assert named in problems[0]


def test_the_shipped_defaults_and_search_space_pass():
    assert training_parameter_problems({}) == []
    assert training_parameter_problems({"promotion_min_test_rows": defaults.PROMOTION_MIN_TEST_ROWS,
                                        "promotion_min_class_rows": defaults.PROMOTION_MIN_CLASS_ROWS}) == []
    assert training_parameter_problems({"promotion_min_test_rows": 0, "promotion_min_class_rows": 0}) == []
    assert training_parameter_problems({"promotion_min_test_rows": 0, "promotion_min_class_rows": 5}) == []
    for family in DEFAULT_SEARCH_SPACE:
        for grid in family["grid"]:
            assert training_parameter_problems({"model_type": family["model_type"], "hyperparameters": grid}) == []


def test_every_estimator_argument_has_a_rule_and_the_metrics_match_evaluation():
    for model_type in MODEL_TYPES:
        assert set(accepted_hyperparameters(model_type)) <= set(HYPERPARAMETER_RULES), model_type
    assert set(PROMOTION_METRICS) == set(METRIC_NAMES)


def test_every_problem_is_returned_at_once():
    problems = training_parameter_problems({"model_type": "random_forest", "test_size_ratio": 2,
                                            "hyperparameters": {"n_estimators": 0, "colour": 1}})
    assert len(problems) == 3
