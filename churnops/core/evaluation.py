"""Holdout metrics, curves and plots for a binary churn classifier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

METRIC_NAMES = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss")
# The KFP UI draws the ROC curve from these points; thousands of thresholds add nothing visible.
MAX_ROC_POINTS = 200


@dataclass
class Evaluation:
    metrics: dict[str, float]
    confusion: list[list[int]]  # rows: true class [0, 1]; columns: predicted class
    roc: tuple[list[float], list[float], list[float]]  # fpr, tpr, thresholds


def compute_metrics(y_true, churn_probability, threshold: float = 0.5) -> dict[str, float]:
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(churn_probability, dtype=float)
    predicted = (probability >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y_true, probability)),
        "accuracy": float(accuracy_score(y_true, predicted)),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "log_loss": float(log_loss(y_true, np.clip(probability, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }


def thin_roc(y_true, churn_probability) -> tuple[list[float], list[float], list[float]]:
    fpr, tpr, thresholds = roc_curve(np.asarray(y_true).astype(int), churn_probability)
    # sklearn's first threshold is +inf, which JSON (and KFP's UI) cannot carry.
    thresholds = np.minimum(thresholds, 1.0)
    if len(fpr) > MAX_ROC_POINTS:
        keep = np.unique(np.linspace(0, len(fpr) - 1, MAX_ROC_POINTS).round().astype(int))
        fpr, tpr, thresholds = fpr[keep], tpr[keep], thresholds[keep]
    return fpr.tolist(), tpr.tolist(), thresholds.tolist()


def evaluate(y_true, churn_probability, threshold: float = 0.5) -> Evaluation:
    y_true = np.asarray(y_true).astype(int)
    predicted = (np.asarray(churn_probability) >= threshold).astype(int)
    matrix = confusion_matrix(y_true, predicted, labels=[0, 1]).tolist()
    return Evaluation(compute_metrics(y_true, churn_probability, threshold), matrix, thin_roc(y_true, churn_probability))


def roc_figure(evaluation: Evaluation):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fpr, tpr, _ = evaluation.roc
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(fpr, tpr, label=f"ROC AUC = {evaluation.metrics['roc_auc']:.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve (holdout)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def confusion_figure(evaluation: Evaluation, labels=("no churn", "churn")):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(evaluation.confusion)
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    axes.set(
        xticks=[0, 1], yticks=[0, 1], xticklabels=labels, yticklabels=labels,
        xlabel="Predicted", ylabel="Actual", title="Confusion matrix (holdout)",
    )
    figure.tight_layout()
    return figure
