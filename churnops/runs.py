"""The user-facing runs (what `churnops train` does), callable from the CLI, tests and benchmarks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from churnops.data import local_path
from churnops.estimators import build_estimator
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
    home: Path | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Run the training pipeline locally and return what it registered (see summary.training_summary)."""
    from pipelines.training import training_pipeline

    hyperparameters = hyperparameters if hyperparameters is not None else DEFAULT_HYPERPARAMETERS.get(model_type, {})
    build_estimator(model_type, hyperparameters)  # refuse a bad model config before any step runs
    home = home or churnops_home()
    tracking_uri = tracking_uri or embedded_tracking_uri(home)
    connect(tracking_uri)  # fail fast on an unreachable server, before any step starts
    started = time.monotonic()
    version = run_locally(
        training_pipeline,
        {
            "dataset_uri": absolute_dataset_uri(dataset),
            "test_size_ratio": test_size,
            "target_column": target,
            "positive_label": positive_label,
            "mlflow_tracking_uri": tracking_uri,
            "mlflow_experiment_name": experiment,
            "model_name": model_name,
            "model_type": model_type,
            "hyperparameters": hyperparameters,
            "random_state": random_state,
        },
        home,
        verbose=verbose,
    )
    result = training_summary(tracking_uri, model_name, version)
    result["duration_seconds"] = round(time.monotonic() - started, 2)
    return result
