"""Stratified cross-validation of one candidate on the training split (never the holdout); no MLflow here."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

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
