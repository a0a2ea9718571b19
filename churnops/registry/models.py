"""Log a fitted churn model to MLflow (and save the KFP lineage copy) with what it needs to load anywhere."""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import AnyType, ColSpec, DataType, Schema
from sklearn.metrics import roc_auc_score

import churnops
from churnops import defaults, names
from churnops.core import conversion
from churnops.core.fitting import FittedModel, fit_model, set_cores, typed_features
from churnops.registry import journal, tracking
from churnops.registry.serving import COMPILED_ARTIFACT, ChurnModel

log = logging.getLogger("churnops.registry")

MODEL_ARTIFACT = "model"
# What the logged model needs to load and score. Listing it skips MLflow's requirement
# inference, which re-imports the model in a subprocess and costs ~10 s per log.
MODEL_PACKAGES = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle", "onnxruntime")


@dataclass
class LoggedModel:
    run_id: str
    model_uri: str
    model_id: str


def model_requirements() -> list[str]:
    return [f"{name}=={importlib.metadata.version(name)}" for name in MODEL_PACKAGES]


# What the model's pickle (the pipeline's churnops transformers) and the pyfunc wrapper import:
# the only churnops files the model carries, so it loads where churnops is not installed.
MODEL_CODE = (
    "__init__.py",
    "core/__init__.py",
    "core/features.py",
    "core/compiled.py",
    "registry/__init__.py",
    "registry/serving.py",
)


@contextmanager
def _model_files(fitted: FittedModel) -> Iterator[tuple[list[str], dict[str, str]]]:
    """(code_paths, artifacts) for logging: a minimal copy of the churnops package (MODEL_CODE) and
    the compiled form when it passed its parity gate; removed after logging."""
    source = Path(churnops.__file__).parent
    with tempfile.TemporaryDirectory(prefix="churnops-model-code-") as folder:
        package = Path(folder) / "churnops"
        for relative in MODEL_CODE:
            (package / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, package / relative)
        artifacts = {}
        if fitted.compiled is not None:
            graph = Path(folder) / "model.onnx"
            graph.write_bytes(fitted.compiled)
            artifacts[COMPILED_ARTIFACT] = str(graph)
        yield [str(package)], artifacts


def model_metadata(fitted: FittedModel, target: str, positive_label: str,
                   decision_threshold: float = defaults.DECISION_THRESHOLD) -> dict[str, Any]:
    return {
        "feature_spec": fitted.spec.to_dict(),
        "target_column": target,
        "positive_label": positive_label,
        "decision_threshold": float(decision_threshold),
        "churnops_version": churnops.__version__,
        # The parity gate's record: form (onnx or sklearn), why, tolerance, largest differences, versions.
        "compiled": dict(fitted.compiled_record),
    }


def model_signature(fitted: FittedModel) -> ModelSignature:
    """Raw rows in: every column `Any` (MLflow then neither casts nor rejects it: ints or floats, blank
    strings in numbers; the wrapper parses them), the id columns optional; the decisions out."""
    inputs = [ColSpec(AnyType(), column) for column in fitted.spec.features]
    inputs += [ColSpec(AnyType(), column, required=False) for column in fitted.spec.id_columns]
    outputs = [ColSpec(DataType.double, "churn_probability"), ColSpec(DataType.long, "churn_predicted"),
               ColSpec(DataType.string, "model_name"), ColSpec(DataType.string, "model_version")]
    return ModelSignature(Schema(inputs), Schema(outputs))


def python_model(fitted: FittedModel, metadata: dict[str, Any], model_name: str, run_id: str) -> ChurnModel:
    return ChurnModel(fitted.pipeline, fitted.spec.to_dict(),
                      metadata.get("decision_threshold", defaults.DECISION_THRESHOLD), model_name, run_id)


def save_model_copy(fitted: FittedModel, path: str, example: pd.DataFrame, metadata: dict[str, Any],
                    model_name: str = "", run_id: str = "") -> None:
    """Write the model in MLflow format to a local folder (the KFP Model artifact)."""
    with _model_files(fitted) as (code_paths, artifacts):
        mlflow.pyfunc.save_model(
            path, python_model=python_model(fitted, metadata, model_name, run_id), signature=model_signature(fitted),
            pip_requirements=model_requirements(), code_paths=code_paths, metadata=metadata, artifacts=artifacts or None,
        )


def log_model(fitted: FittedModel, example: pd.DataFrame, metadata: dict[str, Any], model_name: str = "",
              run_id: str = "") -> mlflow.models.model.ModelInfo:
    """Log the model (a pyfunc over the fitted pipeline and its compiled form) to the active run,
    with signature, raw input example."""
    with _model_files(fitted) as (code_paths, artifacts):
        return mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT, python_model=python_model(fitted, metadata, model_name, run_id),
            signature=model_signature(fitted), input_example=example, pip_requirements=model_requirements(),
            code_paths=code_paths, metadata=metadata, artifacts=artifacts or None,
        )


def compile_model(fitted: FittedModel, holdout: pd.DataFrame, decision_threshold: float, rows: str) -> None:
    """The parity gate (churnops.core.conversion): fills fitted.compiled (or leaves it None) and its
    record, and says so when the version will be served by scikit-learn. `rows`: what `holdout` is."""
    fitted.compiled, fitted.compiled_record = conversion.compile_checked(
        fitted.pipeline, fitted.spec, typed_features(holdout, fitted.spec), decision_threshold)
    fitted.compiled_record["parity_rows"] = rows
    if fitted.compiled is None:
        log.warning("No compiled form for this model; it will be served by scikit-learn: %s",
                    fitted.compiled_record["reason"])


def raw_example(x_train: pd.DataFrame, fitted: FittedModel) -> pd.DataFrame:
    """Five training rows as a user has them (the id column included), the logged input example."""
    return x_train[fitted.spec.id_columns + fitted.spec.features].head(5)


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
    model_name: str = "",
    decision_threshold: float = defaults.DECISION_THRESHOLD,
    run_tags: dict[str, str] | None = None,
    n_jobs: int = 1,
    holdout: pd.DataFrame | None = None,
) -> tuple[FittedModel, LoggedModel]:
    """Fit, compile (with its parity gate), then log params, training metrics and the model in one MLflow run.

    A new run, or the existing run `run_id` (the parent run of a candidate search). `n_jobs`: cores
    the fit may use (OpenMP threads included). `holdout`: raw rows the model did not train on (the
    test split) for the parity gate; without it the gate compares on the training rows.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_jobs):
        fitted = fit_model(x_train, y_train, model_type, hyperparameters, random_state, n_jobs)
        compile_model(fitted, x_train if holdout is None else holdout, decision_threshold,
                      "training" if holdout is None else "holdout")
    typed = typed_features(x_train, fitted.spec)
    example = raw_example(x_train, fitted)
    if run_id:
        context = mlflow.start_run(run_id=run_id)
    else:
        context = mlflow.start_run(experiment_id=experiment_id, run_name=run_name or f"train-{model_type}")
    with context as run:
        mlflow.set_tags({names.RUN_TAG_STEP: "train", names.RUN_TAG_VERSION: churnops.__version__,
                         names.RUN_TAG_OWNER: tracking.owner(), **(run_tags or {})})
        # A kill while fitting (OOM, eviction) leaves this run RUNNING: the exit handler's case.
        journal.boundary("train:after-start-run")
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
        mlflow.set_tag(names.RUN_TAG_SERVING_FORM, fitted.compiled_record["form"])
        with threadpool_limits(limits=n_jobs):
            train_scores = fitted.pipeline.predict_proba(typed)[:, 1]
        mlflow.log_metric("train_roc_auc", float(roc_auc_score(y_train, train_scores)))
        set_cores(fitted.pipeline, 1)  # the logged (and served) model predicts on one core
        info = log_model(fitted, example, model_metadata(fitted, target, positive_label, decision_threshold),
                         model_name, run.info.run_id)
    return fitted, LoggedModel(run.info.run_id, info.model_uri, info.model_id or "")
