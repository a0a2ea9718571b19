"""Leakage: a feature that alone (or nearly alone) predicts the target is a copy of the outcome, not a signal.

A column equal to the target scores ROC AUC 1.0, beats any honest champion (0.85 on Telco), and the model
that needs it cannot score real rows, where that column does not exist yet. The gate therefore asks how
well each feature predicts the target on its own, on the holdout (`single_feature_auc`):
- a number: the ROC AUC of its raw value (missing = below every value), either direction;
- a category: the ROC AUC of the churn rate of its value, cross-fitted (each half of the rows encoded
  with the rates of the other half, a value unseen there gets that half's overall rate), so a column
  with one value per row (an id) does not look predictive by learning each row's own label.
Pure: numpy, pandas, scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnops.core.features import FeatureSpec


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    value = float(roc_auc_score(y, score))
    return max(value, 1.0 - value)  # a feature that predicts the other class just as well leaks just as much


def _cross_fitted_rates(values: pd.Series, y: np.ndarray, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(len(values))
    halves = (order[: len(order) // 2], order[len(order) // 2:])
    encoded = np.empty(len(values), dtype="float64")
    for target, source in (halves, halves[::-1]):
        rates = pd.Series(y[source]).groupby(values.iloc[source].to_numpy()).mean()
        encoded[target] = values.iloc[target].map(rates).fillna(float(y[source].mean())).to_numpy(dtype="float64")
    return encoded


def single_feature_auc(typed: pd.DataFrame, y, spec: FeatureSpec, seed: int = 0) -> dict[str, float]:
    """ROC AUC of each feature alone on these rows (0.5 = no signal, 1.0 = the target itself)."""
    y = np.asarray(y, dtype="int64")
    if len(y) < 2 or y.min() == y.max():
        return {}
    found = {}
    for column in spec.numeric:
        values = typed[column].to_numpy(dtype="float64")
        present = values[np.isfinite(values)]
        floor = (present.min() - 1.0) if present.size else 0.0
        found[column] = _auc(y, np.where(np.isfinite(values), values, floor))
    for column in spec.categorical:
        text = typed[column].astype(object).where(typed[column].notna(), "\x00missing").astype(str).reset_index(drop=True)
        found[column] = _auc(y, _cross_fitted_rates(text, y, seed))
    return {column: round(value, 6) for column, value in sorted(found.items(), key=lambda item: -item[1])}


def leaking(aucs: dict[str, float], limit: float) -> dict[str, float]:
    """The features whose single-feature ROC AUC reaches `limit`, strongest first."""
    return {column: value for column, value in aucs.items() if value >= limit}
