"""Fit the churn model (preprocessing + estimator in one sklearn Pipeline) and log it to MLflow."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

import churnops
from churnops.errors import DatasetError
from churnops.estimators import build_estimator
from churnops.features import FeatureSpec, build_preprocessor, infer_feature_spec

MODEL_ARTIFACT = "model"
# What the logged model needs to load and score. Listing it skips MLflow's requirement
# inference, which re-imports the model in a subprocess and costs ~10 s per log.
MODEL_PACKAGES = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")


@dataclass
class FittedModel:
    pipeline: Pipeline
    spec: FeatureSpec


@dataclass
class LoggedModel:
    run_id: str
    model_uri: str
    model_id: str


def typed_features(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The model's input columns with their natural types: floats for numbers, text for categories.

    Unparseable numbers become NaN here; callers that must not lose rows silently check first
    (see churnops.inference).
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
) -> FittedModel:
    spec = infer_feature_spec(x_train)
    if not spec.features:
        raise DatasetError(
            f"No usable feature columns (identifiers: {spec.id_columns}, dropped: {spec.dropped}). "
            "Add feature columns to the dataset."
        )
    pipeline = Pipeline(
        [
            ("preprocess", build_preprocessor(spec)),
            ("classifier", build_estimator(model_type, hyperparameters, random_state)),
        ]
    )
    pipeline.fit(typed_features(x_train, spec), y_train)
    return FittedModel(pipeline, spec)


def model_requirements() -> list[str]:
    return [f"{name}=={importlib.metadata.version(name)}" for name in MODEL_PACKAGES]


def _code_paths() -> list[str]:
    # The pipeline holds churnops transformers; shipping the package keeps the model loadable
    # where churnops is not installed (a serving image, a notebook).
    return [str(Path(churnops.__file__).parent)]


def model_metadata(fitted: FittedModel, target: str, positive_label: str) -> dict[str, Any]:
    return {
        "feature_spec": fitted.spec.to_dict(),
        "target_column": target,
        "positive_label": positive_label,
        "churnops_version": churnops.__version__,
    }


def _model_options(fitted: FittedModel, example: pd.DataFrame, metadata: dict[str, Any]) -> dict[str, Any]:
    """What both the logged model and the local lineage copy are saved with."""
    return {
        # cloudpickle, not MLflow 3's default skops: skops refuses churnops' own transformers.
        "serialization_format": mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        "signature": infer_signature(example, fitted.pipeline.predict(example)),
        "pip_requirements": model_requirements(),
        "code_paths": _code_paths(),
        "metadata": metadata,
    }


def save_model_copy(fitted: FittedModel, path: str, example: pd.DataFrame, metadata: dict[str, Any]) -> None:
    """Write the model in MLflow format to a local folder (the KFP Model artifact)."""
    mlflow.sklearn.save_model(fitted.pipeline, path, **_model_options(fitted, example, metadata))


def log_model(fitted: FittedModel, example: pd.DataFrame, metadata: dict[str, Any]) -> mlflow.models.model.ModelInfo:
    """Log the fitted pipeline to the active run, with signature, input example and metadata."""
    return mlflow.sklearn.log_model(
        fitted.pipeline, name=MODEL_ARTIFACT, input_example=example, **_model_options(fitted, example, metadata)
    )


def train_and_log(
    x_train: pd.DataFrame,
    y_train: pd.Series,
    *,
    experiment_id: str,
    model_type: str,
    hyperparameters: dict[str, Any] | None,
    random_state: int,
    target: str,
    positive_label: str,
    run_params: dict[str, Any] | None = None,
    run_name: str | None = None,
) -> tuple[FittedModel, LoggedModel]:
    """Fit, then log params, training metrics and the model in one new MLflow run."""
    fitted = fit_model(x_train, y_train, model_type, hyperparameters, random_state)
    typed = typed_features(x_train, fitted.spec)
    example = typed.head(5)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name or f"train-{model_type}") as run:
        mlflow.set_tags({"churnops.step": "train", "churnops.version": churnops.__version__})
        mlflow.log_params(
            {
                "model_type": model_type,
                "random_state": random_state,
                "target_column": target,
                "positive_label": positive_label,
                "n_train_rows": len(x_train),
                "n_numeric_features": len(fitted.spec.numeric),
                "n_categorical_features": len(fitted.spec.categorical),
                **{f"hp_{key}": value for key, value in sorted((hyperparameters or {}).items())},
                **(run_params or {}),
            }
        )
        mlflow.log_dict(fitted.spec.to_dict(), "feature_spec.json")
        train_scores = fitted.pipeline.predict_proba(typed)[:, 1]
        mlflow.log_metric("train_roc_auc", float(roc_auc_score(y_train, train_scores)))
        info = log_model(fitted, example, model_metadata(fitted, target, positive_label))
    return fitted, LoggedModel(run.info.run_id, info.model_uri, info.model_id or "")
