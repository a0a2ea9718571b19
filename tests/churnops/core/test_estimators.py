import pytest

from churnops.core.estimators import ESTIMATORS, build_estimator
from churnops.errors import ChurnopsError


@pytest.mark.parametrize("model_type", sorted(ESTIMATORS))
def test_every_estimator_builds_with_defaults(model_type):
    assert hasattr(build_estimator(model_type, {}), "predict_proba")


def test_hyperparameters_reach_the_estimator():
    assert build_estimator("random_forest", {"n_estimators": 7, "max_depth": 0}).get_params()["max_depth"] is None
    assert build_estimator("logistic_regression", {"C": 0.25}).C == 0.25


def test_unknown_model_type_lists_the_choices():
    with pytest.raises(ChurnopsError, match=r"Unknown model_type 'xgboost'.*hist_gradient_boosting"):
        build_estimator("xgboost", {})


def test_unknown_hyperparameter_lists_the_accepted_ones():
    with pytest.raises(ChurnopsError, match=r"\['n_estimators'\] are not used by logistic_regression.*'C'"):
        build_estimator("logistic_regression", {"n_estimators": 10})
