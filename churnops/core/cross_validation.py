"""Stratified cross-validation of one candidate on the training split (never the holdout); no MLflow here."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from churnops.core.features import infer_feature_spec
from churnops.core.fitting import build_pipeline, typed_features
from churnops.errors import ChurnopsError, DatasetError

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


def subsample(x_train: pd.DataFrame, y_train: pd.Series, rows: int, random_state: int = 42
              ) -> tuple[pd.DataFrame, pd.Series]:
    """A stratified sample of `rows` rows (the class balance kept), the same for the same inputs;
    all rows when `rows` is at least their number."""
    if rows >= len(x_train):
        return x_train, y_train
    picker = StratifiedShuffleSplit(n_splits=1, train_size=int(rows), random_state=random_state)
    chosen, _ = next(picker.split(np.zeros(len(y_train)), np.asarray(y_train)))
    chosen.sort()
    return x_train.iloc[chosen], y_train.iloc[chosen]


def cross_validate(
    x_train: pd.DataFrame,
    y_train: pd.Series,
    candidate: dict[str, Any],
    folds: int = 3,
    random_state: int = 42,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Mean and spread of the ROC AUC over stratified folds of the training split (never the holdout).

    `n_jobs`: cores each fold's fit may use (the folds run one after another)."""
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
        model = build_pipeline(spec, candidate["model_type"], candidate.get("hyperparameters"), random_state, n_jobs)
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
        "cv_rows": len(x_train),
    }
