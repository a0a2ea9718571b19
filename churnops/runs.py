"""The user-facing runs (what `churnops train` does), callable from the CLI, tests and benchmarks."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from churnops.candidates import DEFAULT_SEARCH_SPACE, SEARCH, check_search_space
from churnops.data import local_path
from churnops.errors import ChurnopsError
from churnops.estimators import check_hyperparameters
from churnops.local_run import run_locally
from churnops.summary import training_summary
from churnops.tracking import check_reachable, churnops_home, connect, embedded_tracking_uri

DEFAULT_HYPERPARAMETERS = {"logistic_regression": {"C": 1.0}}


def absolute_dataset_uri(dataset: str) -> str:
    """Steps run in their own working directory: hand them an absolute path for local files."""
    path = local_path(dataset)
    return str(Path(path).resolve()) if path is not None else dataset


def connect_quietly(tracking_uri: str) -> None:
    """Import MLflow and its store code (no database access: the steps may be creating it)."""
    try:
        connect(tracking_uri)
        if tracking_uri.startswith(("sqlite:", "postgresql", "mysql", "mssql")):
            import mlflow.store.model_registry.sqlalchemy_store  # noqa: F401
            import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    except Exception:  # noqa: BLE001 (an optimisation: the summary connects again and reports errors)
        pass


def train(
    dataset: str,
    *,
    tracking_uri: str | None = None,
    experiment: str = "churn",
    model_name: str = "churn-classifier",
    target: str = "Churn",
    positive_label: str = "",
    test_size: float = 0.2,
    model_type: str = SEARCH,
    hyperparameters: dict[str, Any] | None = None,
    random_state: int = 42,
    home: Path | None = None,
    verbose: bool = False,
    search_space: list[dict[str, Any]] | None = None,
    cv_folds: int = 3,
) -> dict[str, Any]:
    """Run the training pipeline locally and return what it registered (see summary.training_summary).

    `model_type` "auto" searches `search_space` (default: churnops.candidates.DEFAULT_SEARCH_SPACE);
    any estimator name trains that one model with `hyperparameters`.
    """
    from pipelines.training import training_pipeline

    search_space = check_search_space(search_space if search_space is not None else DEFAULT_SEARCH_SPACE)
    if model_type == SEARCH:
        if hyperparameters:
            raise ChurnopsError(
                "Hyperparameters apply to one named model, not to the candidate search (--model-type auto). "
                "Name the model with --model-type, or put the settings in a search space file (--search-space)."
            )
        hyperparameters = {}
    else:
        hyperparameters = hyperparameters if hyperparameters is not None else DEFAULT_HYPERPARAMETERS.get(model_type, {})
        check_hyperparameters(model_type, hyperparameters)  # refuse a bad model config before any step runs
    home = home or churnops_home()
    tracking_uri = tracking_uri or embedded_tracking_uri(home)
    check_reachable(tracking_uri)  # fail fast on an unreachable server, before any step starts
    started = time.monotonic()
    # This process needs MLflow only for the summary at the end: import it while the steps run.
    warm = threading.Thread(target=connect_quietly, args=(tracking_uri,), name="import-mlflow", daemon=True)
    warm.start()
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
            "search_space": search_space,
            "search_cv_folds": cv_folds,
        },
        home,
        verbose=verbose,
    )
    warm.join()
    connect(tracking_uri)
    result = training_summary(tracking_uri, model_name, version)
    result["selection"] = selection(tracking_uri, result["run_id"])
    result["duration_seconds"] = round(time.monotonic() - started, 2)
    return result


def selection(tracking_uri: str, run_id: str) -> dict[str, Any]:
    """Which model the run trained and, after a search, how it was chosen (from the run in MLflow)."""
    import json

    import mlflow

    run = mlflow.MlflowClient(tracking_uri=tracking_uri).get_run(run_id)
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    chosen = json.loads(tags.get("churnops.selected_candidate", "null") or "null")
    return {
        "mode": "search" if chosen else "single",
        "model_type": params.get("model_type"),
        "hyperparameters": chosen["hyperparameters"] if chosen
        else {key[3:]: value for key, value in params.items() if key.startswith("hp_")},
        "candidate": chosen["name"] if chosen else None,
        "n_candidates": int(params["search_n_candidates"]) if "search_n_candidates" in params else 1,
        "cv_folds": int(params["search_cv_folds"]) if "search_cv_folds" in params else None,
        "cv_roc_auc": metrics.get("cv_roc_auc"),
    }


def describe_selection(chosen: dict[str, Any]) -> str:
    if chosen["mode"] == "single":
        return f"{chosen['model_type']} {chosen['hyperparameters']} (single-model mode)"
    return (
        f"{chosen['candidate']}, best of {chosen['n_candidates']} candidates by "
        f"{chosen['cv_folds']}-fold CV ROC AUC {chosen['cv_roc_auc']:.3f}"
    )
