"""A model fits and scores a holdout on the cores its step has, and is logged to predict on one."""

from __future__ import annotations

from churnops.core.data import split_dataset
from churnops.registry import models, tracking
from churnops.registry.loading import load_pipeline


def test_a_forest_fit_on_two_cores_is_logged_for_one_and_loaded_for_as_many_as_asked(tracking_uri, make_churn_dataset):
    frame, target = make_churn_dataset("many_categoricals")
    split = split_dataset(frame, target, 0.2)
    experiment = tracking.ensure_experiment(tracking_uri, "cores")
    fitted, logged = models.train_and_log(
        split.x_train, split.y_train, experiment_id=experiment, model_type="random_forest",
        hyperparameters={"n_estimators": 10}, random_state=42, target=target, positive_label=split.positive_label,
        n_jobs=2)
    assert fitted.pipeline.named_steps["classifier"].n_jobs == 1  # handed on (and served) single-core
    assert load_pipeline(logged.model_uri).named_steps["classifier"].n_jobs == 1
    assert load_pipeline(logged.model_uri, 2).named_steps["classifier"].n_jobs == 2
    # A logistic regression has the setting too (unused by lbfgs); it is set alike, nothing breaks.
    _, lr = models.train_and_log(
        split.x_train, split.y_train, experiment_id=experiment, model_type="logistic_regression",
        hyperparameters={}, random_state=42, target=target, positive_label=split.positive_label, n_jobs=2)
    assert load_pipeline(lr.model_uri, 2).predict_proba(split.x_test[fitted.spec.features]).shape[1] == 2
