"""The user-facing runs (what `churnops train` does), callable from the CLI, tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import mlflow

from churnops import fingerprint as fingerprints
from churnops.data import encode_target, local_path, read_dataset
from churnops.data import fingerprint as dataset_sha256
from churnops.estimators import build_estimator
from churnops.promotion import Policy
from churnops.local_run import run_locally
from churnops.summary import training_summary
from churnops.tracking import churnops_home, connect, embedded_tracking_uri

DEFAULT_HYPERPARAMETERS = {"logistic_regression": {"C": 1.0}}


def absolute_dataset_uri(dataset: str) -> str:
    """Steps run in their own working directory: hand them an absolute path for local files."""
    path = local_path(dataset)
    return str(Path(path).resolve()) if path is not None else dataset


def train(
    dataset: str,
    *,
    tracking_uri: str | None = None,
    experiment: str = "churn",
    model_name: str = "churn-classifier",
    target: str = "Churn",
    positive_label: str = "",
    test_size: float = 0.2,
    model_type: str = "logistic_regression",
    hyperparameters: dict[str, Any] | None = None,
    random_state: int = 42,
    decision_threshold: float = 0.5,
    policy: Policy | None = None,
    force: bool = False,
    home: Path | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Run the training pipeline locally and return what it registered (see summary.training_summary).

    Idempotent: when a version with the same fingerprint (dataset content + parameters + code)
    exists, nothing runs and that version is returned with `promoted: False`, unless `force`.
    """
    from pipelines.training import training_pipeline

    hyperparameters = hyperparameters if hyperparameters is not None else DEFAULT_HYPERPARAMETERS.get(model_type, {})
    build_estimator(model_type, hyperparameters)  # refuse a bad model config before any step runs
    home = home or churnops_home()
    tracking_uri = tracking_uri or embedded_tracking_uri(home)
    connect(tracking_uri)  # fail fast on an unreachable server, before any step starts
    policy = policy or Policy()
    dataset_uri = absolute_dataset_uri(dataset)
    started = time.monotonic()
    started_ms = int(time.time() * 1000)
    # The pipeline checks again at registration (scheduled runs, races); checking here first
    # saves the whole run (~15 s locally) when nothing changed.
    frame = read_dataset(dataset_uri)
    fingerprint = fingerprints.training_fingerprint(
        dataset_sha256(frame),
        target_column=target,
        positive_label=encode_target(frame, target, positive_label)[1],
        test_size_ratio=test_size,
        random_state=random_state,
        model_type=model_type,
        hyperparameters=hyperparameters,
        decision_threshold=decision_threshold,
    )
    del frame
    existing = None if force else fingerprints.find_version(
        mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri), model_name, fingerprint)
    if existing is not None:
        result = training_summary(tracking_uri, model_name, existing.version)
        result.update(promoted=False, reused=True, fingerprint=fingerprint,
                      duration_seconds=round(time.monotonic() - started, 2))
        return result
    version = run_locally(
        training_pipeline,
        {
            "dataset_uri": dataset_uri,
            "test_size_ratio": test_size,
            "target_column": target,
            "positive_label": positive_label,
            "mlflow_tracking_uri": tracking_uri,
            "mlflow_experiment_name": experiment,
            "model_name": model_name,
            "model_type": model_type,
            "hyperparameters": hyperparameters,
            "random_state": random_state,
            "decision_threshold": decision_threshold,
            "promotion_thresholds": dict(policy.thresholds),
            "promotion_metric": policy.primary_metric,
            "promotion_tolerance": policy.tolerance,
            "force": force,
        },
        home,
        verbose=verbose,
    )
    result = training_summary(tracking_uri, model_name, version)
    reused = result["created_ms"] < started_ms  # registration found an identical version (a race)
    result.update(
        promoted=not reused and result["tags"].get("validation_action") == "promote"
        and result["aliases"].get("champion") == result["model_version"],
        reused=reused,
        fingerprint=fingerprint,
        duration_seconds=round(time.monotonic() - started, 2),
    )
    return result


def rejections_path_for(output: Path) -> Path:
    return output.with_name(f"{output.stem}.rejected{output.suffix or '.csv'}")


def predict(
    model_uri: str,
    input_uri: str,
    output: str,
    *,
    tracking_uri: str | None = None,
    chunk_rows: int = 50_000,
    max_rejected_fraction: float = 0.01,
    home: Path | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Run the inference pipeline locally; copy its predictions to `output` (rejected rows beside it)."""
    from pipelines.inference import inference_pipeline

    home = home or churnops_home()
    tracking_uri = tracking_uri or embedded_tracking_uri(home)
    connect(tracking_uri)
    started = time.monotonic()
    summary = dict(run_locally(
        inference_pipeline,
        {
            "model_uri": model_uri,
            "input_uri": absolute_dataset_uri(input_uri),
            "mlflow_tracking_uri": tracking_uri,
            "chunk_rows": chunk_rows,
            "max_rejected_fraction": max_rejected_fraction,
        },
        home,
        verbose=verbose,
    ))
    # KFP passes a dict output through a protobuf Struct: every number comes back as a float.
    for key in ("rows", "rejected"):
        summary[key] = int(summary[key])
    summary["rejected_columns"] = {name: int(count) for name, count in summary["rejected_columns"].items()}
    destination = Path(output).resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    shutil.copyfile(summary.pop("predictions_path"), partial)
    os.replace(partial, destination)  # an existing output is replaced whole or not at all
    rejected_source = summary.pop("rejections_path")
    rejected = rejections_path_for(destination)
    if summary["rejected"]:
        shutil.copyfile(rejected_source, rejected)
        summary["rejections"] = str(rejected)
    else:
        rejected.unlink(missing_ok=True)  # a stale file from an earlier run would mislead
        summary["rejections"] = None
    summary.update(output=str(destination), tracking_uri=tracking_uri,
                   duration_seconds=round(time.monotonic() - started, 2))
    return summary
