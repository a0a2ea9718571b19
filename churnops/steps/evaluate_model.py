"""Step `evaluate_model`: score the holdout with the model as logged in MLflow; log metrics and plots."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import mlflow

from churnops import cpus, names
from churnops.core import evaluation
from churnops.core.fitting import typed_features
from churnops.registry import tracking
from churnops.registry.loading import feature_spec, load_pipeline
from churnops.storage.datasets import read_features, read_target

HOLDOUT_DIR = "evaluation/holdout"
HOLDOUT_X, HOLDOUT_Y = "x_test.csv", "y_test.csv"


def run(
    x_test_path: str,
    y_test_path: str,
    model_uri: str,
    run_id: str,
    tracking_uri: str,
    threshold: float,
) -> evaluation.Evaluation:
    """Score the holdout with the model as logged in MLflow; log metrics and plots to its run."""
    tracking.connect(tracking_uri)
    model = load_pipeline(model_uri, cpus.cpu_budget())  # kfp.local runs it alone, a pod has its own cores
    x_test = typed_features(read_features(x_test_path), feature_spec(model_uri))
    y_test = read_target(y_test_path)
    result = evaluation.evaluate(y_test, model.predict_proba(x_test)[:, 1], threshold)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"test_{name}": value for name, value in result.metrics.items()})
        mlflow.log_param(names.PARAM_DECISION_THRESHOLD, threshold)
        mlflow.log_dict({"confusion_matrix": result.confusion, "labels": [0, 1]}, "evaluation/confusion_matrix.json")
        mlflow.log_figure(evaluation.roc_figure(result), "evaluation/roc_curve.png")
        mlflow.log_figure(evaluation.confusion_figure(result), "evaluation/confusion_matrix.png")
        # The holdout itself: `churnops models list` scores every version on the champion's rows.
        with tempfile.TemporaryDirectory() as folder:
            shutil.copyfile(x_test_path, Path(folder) / HOLDOUT_X)
            shutil.copyfile(y_test_path, Path(folder) / HOLDOUT_Y)
            mlflow.log_artifacts(folder, HOLDOUT_DIR)
    return result
