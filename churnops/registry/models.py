"""Log a fitted churn model to MLflow (and save the KFP lineage copy) with what it needs to load anywhere."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn.metrics import roc_auc_score

import churnops
from churnops import names
from churnops.core.fitting import FittedModel, fit_model, typed_features
from churnops.registry import tracking

MODEL_ARTIFACT = "model"
# What the logged model needs to load and score. Listing it skips MLflow's requirement
# inference, which re-imports the model in a subprocess and costs ~10 s per log.
MODEL_PACKAGES = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")


@dataclass
class LoggedModel:
    run_id: str
    model_uri: str
    model_id: str


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
    run_id: str | None = None,
) -> tuple[FittedModel, LoggedModel]:
    """Fit, then log params, training metrics and the model in one MLflow run.

    A new run, or the existing run `run_id` (the parent run of a candidate search).
    """
    fitted = fit_model(x_train, y_train, model_type, hyperparameters, random_state)
    typed = typed_features(x_train, fitted.spec)
    example = typed.head(5)
    if run_id:
        context = mlflow.start_run(run_id=run_id)
    else:
        context = mlflow.start_run(experiment_id=experiment_id, run_name=run_name or f"train-{model_type}")
    with context as run:
        mlflow.set_tags({names.RUN_TAG_STEP: "train", names.RUN_TAG_VERSION: churnops.__version__,
                         names.RUN_TAG_OWNER: tracking.owner()})
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
