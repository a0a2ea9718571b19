"""Fit the churn model: preprocessing + estimator in one scikit-learn Pipeline (no MLflow here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from churnops.core.estimators import build_estimator
from churnops.core.features import FeatureSpec, build_preprocessor, infer_feature_spec
from churnops.errors import DatasetError


@dataclass
class FittedModel:
    pipeline: Pipeline
    spec: FeatureSpec
    # The compiled form (ONNX graph) when it passed the parity gate, and the gate's record
    # (churnops.core.conversion.compile_checked); logged with the model.
    compiled: bytes | None = None
    compiled_record: dict[str, Any] = field(default_factory=dict)


def typed_features(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The model's input columns with their natural types: floats for numbers, text for categories.

    Unparseable numbers become NaN here; callers that must not lose rows silently check first
    (see churnops.core.scoring).
    """
    missing = [column for column in spec.features if column not in frame.columns]
    if missing:
        raise DatasetError(f"Input is missing required column(s) {missing}. Add them to the input file.")
    typed = pd.DataFrame(index=frame.index)
    for column in spec.numeric:
        typed[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in spec.categorical:
        values = frame[column].astype(object)
        typed[column] = values.where(values.notna(), None)
    return typed[spec.features]


def fit_model(
    x_train: pd.DataFrame,
    y_train: pd.Series,
    model_type: str = "logistic_regression",
    hyperparameters: dict[str, Any] | None = None,
    random_state: int = 42,
    n_jobs: int = 1,
) -> FittedModel:
    """Fit on every row with `n_jobs` cores (the estimator keeps that setting: see set_cores)."""
    spec = infer_feature_spec(x_train)
    if not spec.features:
        raise DatasetError(
            f"No usable feature columns (identifiers: {spec.id_columns}, dropped: {spec.dropped}). "
            "Add feature columns to the dataset."
        )
    pipeline = build_pipeline(spec, model_type, hyperparameters, random_state, n_jobs)
    pipeline.fit(typed_features(x_train, spec), y_train)
    return FittedModel(pipeline, spec)


def set_cores(pipeline: Pipeline, n_jobs: int) -> Pipeline:
    """Let the estimator's predictions (and fits) use `n_jobs` cores, where it has such a setting
    (random forest; logistic regression's is unused, hist gradient boosting's threads are OpenMP's).
    A logged model is set to 1: a served single-row predict must not start a thread pool; a step
    scoring a whole holdout sets the cores it has."""
    classifier = pipeline.steps[-1][1]
    if "n_jobs" in classifier.get_params():
        classifier.set_params(n_jobs=int(n_jobs))
    return pipeline


def build_pipeline(
    spec: FeatureSpec, model_type: str, hyperparameters: dict[str, Any] | None, random_state: int, n_jobs: int = 1
) -> Pipeline:
    """The unfitted model: preprocessing for `spec`'s columns, then the estimator."""
    return Pipeline(
        [
            ("preprocess", build_preprocessor(spec)),
            ("classifier", build_estimator(model_type, hyperparameters, random_state, n_jobs)),
        ]
    )
