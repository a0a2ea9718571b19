"""Step `score_model_family`: cross-validate every setting of one model family, each a nested MLflow run."""

from __future__ import annotations

import time
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import RunStatus
from threadpoolctl import threadpool_limits

from churnops import names
from churnops.core.cross_validation import cross_validate
from churnops.core.search_space import expand
from churnops.registry import tracking
from churnops.storage.datasets import read_features, read_target


def run(
    x_train_path: str,
    y_train_path: str,
    family: dict[str, Any],
    parent: dict[str, Any],
    cv_folds: int,
    random_state: int,
) -> dict[str, Any]:
    """Cross-validate every setting of one model family, each as a child run of the search's parent run."""
    tracking.connect(parent["mlflow_tracking_uri"])
    x_train = read_features(x_train_path)
    y_train = read_target(y_train_path)
    # One core per task (n_jobs=1 and one OpenMP thread for hist gradient boosting): tasks run
    # side by side, and oversubscribed OpenMP threads slow everyone down.
    candidates = expand(family)
    print(f"{names.PROGRESS_PREFIX}scoring {family['model_type']}: {len(candidates)} settings x "
          f"{int(cv_folds)} folds on {len(x_train)} rows", flush=True)
    with threadpool_limits(limits=1):
        scores = [
            score_candidate(x_train, y_train, candidate, parent, int(cv_folds), int(random_state))
            for candidate in candidates
        ]
    return {"model_type": family["model_type"], "scores": scores}


def score_candidate(
    x_train: pd.DataFrame,
    y_train: pd.Series,
    candidate: dict[str, Any],
    parent: dict[str, Any],
    cv_folds: int,
    random_state: int,
) -> dict[str, Any]:
    """One candidate's CV score, recorded in its own run nested under `parent["run_id"]`."""
    client = mlflow.MlflowClient()
    run = client.create_run(
        parent["experiment_id"],
        run_name=candidate["name"],
        tags={names.RUN_TAG_PARENT: parent["run_id"], names.RUN_TAG_STEP: "score",
              names.RUN_TAG_CANDIDATE: candidate["name"], names.RUN_TAG_OWNER: tracking.owner(),
              # The KFP run the search runs in (start_candidate_search's metadata): the exit handler's key.
              **({names.RUN_TAG_KFP_RUN_ID: str(parent["kfp_run_id"])} if parent.get("kfp_run_id") else {})},
    )
    run_id = run.info.run_id
    try:
        score = cross_validate(x_train, y_train, candidate, cv_folds, random_state)
        client.log_batch(
            run_id,
            params=[mlflow.entities.Param(key, str(value)) for key, value in _candidate_params(candidate).items()],
            metrics=_fold_metrics(score),
        )
    except Exception:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id)
    return {**score, "run_id": run_id}


def _candidate_params(candidate: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_type": candidate["model_type"],
        **{f"hp_{key}": value for key, value in sorted((candidate.get("hyperparameters") or {}).items())},
    }


def _fold_metrics(score: dict[str, Any]) -> list:
    now = int(time.time() * 1000)
    metric = mlflow.entities.Metric
    metrics = [
        metric("cv_roc_auc", score["cv_roc_auc"], now, 0),
        metric("cv_roc_auc_std", score["cv_roc_auc_std"], now, 0),
        metric("cv_seconds", score["cv_seconds"], now, 0),
    ]
    metrics += [metric("cv_fold_roc_auc", value, now, fold) for fold, value in enumerate(score["cv_fold_roc_auc"])]
    return metrics
