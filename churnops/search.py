"""Candidate search: stratified cross-validation on the training split, one nested MLflow run per candidate.

Each pipeline task runs in its own process (its own pod on a cluster), so nesting is explicit:
the search step creates the parent run and hands its id on; every score task creates its child
run with the `mlflow.parentRunId` tag through `MlflowClient` (no process-wide "active run"),
and the training step reopens the parent run to log the refit winner, so the parent holds the
final model and its holdout metrics while the children hold the CV scores.
"""

from __future__ import annotations

import json
import time
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import RunStatus
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

import churnops
from churnops import data, storage, tracking
from churnops.candidates import check_search_space, expand, leaderboard
from churnops.errors import ChurnopsError, DatasetError
from churnops.features import infer_feature_spec
from churnops.training import build_pipeline, typed_features

PARENT_TAG = "mlflow.parentRunId"
MIN_FOLDS = 2


def check_folds(y: pd.Series, folds: int) -> None:
    """Each fold needs both classes in its validation part."""
    if folds < MIN_FOLDS:
        raise ChurnopsError(f"search_cv_folds must be at least {MIN_FOLDS}, got {folds}.")
    minority = int(y.value_counts().min()) if y.nunique() == 2 else 0
    if minority < folds:
        raise DatasetError(
            f"The training split has {minority} row(s) of its smaller class, fewer than the {folds} "
            "cross-validation folds. Add rows, lower --cv-folds, or train one model with --model-type NAME."
        )


def cross_validate(
    x_train: pd.DataFrame,
    y_train: pd.Series,
    candidate: dict[str, Any],
    folds: int = 3,
    random_state: int = 42,
) -> dict[str, Any]:
    """Mean and spread of the ROC AUC over stratified folds of the training split (never the holdout)."""
    check_folds(y_train, folds)
    spec = infer_feature_spec(x_train)
    if not spec.features:
        raise DatasetError(
            f"No usable feature columns (identifiers: {spec.id_columns}, dropped: {spec.dropped}). "
            "Add feature columns to the dataset."
        )
    typed = typed_features(x_train, spec)
    target = np.asarray(y_train)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    fold_scores = []
    started = time.perf_counter()
    for train_index, valid_index in splitter.split(typed, target):
        model = build_pipeline(spec, candidate["model_type"], candidate.get("hyperparameters"), random_state)
        model.fit(typed.iloc[train_index], target[train_index])
        churn = model.predict_proba(typed.iloc[valid_index])[:, 1]
        fold_scores.append(float(roc_auc_score(target[valid_index], churn)))
    return {
        "name": candidate["name"],
        "model_type": candidate["model_type"],
        "hyperparameters": dict(candidate.get("hyperparameters") or {}),
        "cv_roc_auc": float(np.mean(fold_scores)),
        "cv_roc_auc_std": float(np.std(fold_scores)),
        "cv_fold_roc_auc": fold_scores,
        "cv_seconds": round(time.perf_counter() - started, 3),
    }


def start_search(
    tracking_uri: str,
    experiment_name: str,
    model_name: str,
    space: list[dict[str, Any]],
    cv_folds: int,
    dataset_info: dict[str, Any],
) -> dict[str, Any]:
    """Check the search space, then open the parent run that the candidates' runs nest under."""
    check_search_space(space)
    n_candidates = sum(len(expand(family)) for family in space)
    tracking.connect(tracking_uri)
    experiment_id = tracking.ensure_experiment(tracking_uri, experiment_name)
    client = mlflow.MlflowClient()
    run = client.create_run(
        experiment_id,
        run_name=f"search-{n_candidates}-candidates",
        tags={
            "churnops.step": "search",
            "churnops.version": churnops.__version__,
            "churnops.model_name": model_name,
        },
    )
    run_id = run.info.run_id
    params = {"search_n_candidates": n_candidates, "search_cv_folds": cv_folds}
    params.update({key: dataset_info[key] for key in ("dataset_uri", "dataset_sha256", "test_size_ratio")
                   if key in dataset_info})
    for key, value in params.items():
        client.log_param(run_id, key, value)
    try:
        client.log_dict(run_id, space, "search/search_space.json")  # the search's first artifact write
    except Exception as exc:  # noqa: BLE001 (only artifact-store failures are rewritten; others re-raise)
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        error = storage.artifact_store_error(exc, client.get_experiment(experiment_id).artifact_location)
        if error is None:
            raise
        raise error from exc
    # Left RUNNING: the training step reopens it to log the winner and ends it.
    return {"run_id": run_id, "experiment_id": experiment_id, "mlflow_tracking_uri": tracking_uri}


def score_family(
    x_train_path: str,
    y_train_path: str,
    family: dict[str, Any],
    parent: dict[str, Any],
    cv_folds: int,
    random_state: int,
) -> dict[str, Any]:
    """Cross-validate every setting of one model family, each as a child run of the search's parent run."""
    tracking.connect(parent["mlflow_tracking_uri"])
    x_train = data.read_features(x_train_path)
    y_train = data.read_target(y_train_path)
    # One core per task (n_jobs=1 and one OpenMP thread for hist gradient boosting): tasks run
    # side by side, and oversubscribed OpenMP threads slow everyone down.
    with threadpool_limits(limits=1):
        scores = [
            score_candidate(x_train, y_train, candidate, parent, int(cv_folds), int(random_state))
            for candidate in expand(family)
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
        tags={PARENT_TAG: parent["run_id"], "churnops.step": "score", "churnops.candidate": candidate["name"]},
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


def log_selection(run_id: str, chosen: dict[str, Any]) -> None:
    """On the parent run: which candidate won, its CV score, and the whole leaderboard."""
    client = mlflow.MlflowClient()
    client.log_param(run_id, "search_selected", chosen["name"])
    client.log_metric(run_id, "cv_roc_auc", float(chosen["cv_roc_auc"]))
    client.log_metric(run_id, "cv_roc_auc_std", float(chosen["cv_roc_auc_std"]))
    client.set_tag(run_id, "churnops.selected_candidate", json.dumps(
        {"name": chosen["name"], "model_type": chosen["model_type"], "hyperparameters": chosen["hyperparameters"]},
        sort_keys=True,
    ))
    client.log_dict(run_id, leaderboard(chosen.get("leaderboard") or [chosen]), "search/leaderboard.json")
