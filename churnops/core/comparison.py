"""Champion vs challenger on the same rows: metrics with bootstrap intervals, curves, calibration, disagreements.

Pure (numpy + scikit-learn); churnops.app.compare loads the models and the rows and renders it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from churnops.core.evaluation import METRIC_NAMES, compute_metrics

RESAMPLES = 300


def metric_intervals(y_true, scores, threshold: float, seed: int, resamples: int = RESAMPLES) -> dict[str, dict]:
    """Each metric with its 95% bootstrap interval (rows resampled with replacement, seeded)."""
    y, p = np.asarray(y_true), np.asarray(scores)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        if y[rows].min() == y[rows].max():
            continue
        for name, value in compute_metrics(y[rows], p[rows], threshold).items():
            draws[name].append(value)
    point = compute_metrics(y, p, threshold)
    return {name: {"value": point[name], "low": float(np.percentile(draws[name], 2.5)),
                   "high": float(np.percentile(draws[name], 97.5))} for name in METRIC_NAMES if draws[name]}


def compare(y_true, challenger, champion, threshold: float, seed: int, top: int = 10) -> dict[str, Any]:
    """Everything the review shows, as plain data (same seed: both models are resampled on the same rows)."""
    y = np.asarray(y_true)
    a, b = np.asarray(challenger), np.asarray(champion)
    gap = np.abs(a - b)
    order = np.argsort(-gap, kind="stable")[:top]
    curves = {}
    for label, scores in (("challenger", a), ("champion", b)):
        fpr, tpr, _ = roc_curve(y, scores)
        precision, recall, _ = precision_recall_curve(y, scores)
        prob_true, prob_pred = calibration_curve(y, scores, n_bins=10, strategy="quantile")
        curves[label] = {"roc": (fpr.tolist(), tpr.tolist()), "pr": (recall.tolist(), precision.tolist()),
                         "calibration": (prob_pred.tolist(), prob_true.tolist())}
    return {
        "rows": int(len(y)), "churners": int(y.sum()), "threshold": threshold, "seed": seed,
        "metrics": {"challenger": metric_intervals(y, a, threshold, seed),
                    "champion": metric_intervals(y, b, threshold, seed)},
        "disagreements": [{"row": int(i), "churned": int(y[i]), "challenger": round(float(a[i]), 4),
                           "champion": round(float(b[i]), 4)} for i in order],
        "flips": int(((a >= threshold) != (b >= threshold)).sum()),
        "curves": curves,
    }
