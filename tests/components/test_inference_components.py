"""The new components through `.python_func` with real artifacts under tmp_path."""

from __future__ import annotations

import json

import pandas as pd
from kfp import dsl
from support.artifacts import artifact

from churnops.core.fingerprint import training_fingerprint
from components import batch_predict, fingerprint_training, resolve_model


def test_fingerprint_reads_the_load_steps_metadata_as_kfp_hands_it_over(tmp_path):
    # Through KFP, metadata numbers arrive as floats (protobuf Struct): 42 -> 42.0.
    meta = {"dataset_sha256": "d" * 64, "target_column": "Churn", "positive_label": "Yes",
            "test_size_ratio": 0.2, "random_state": 42.0}
    x_train = artifact(dsl.Dataset, tmp_path, "x_train", meta)
    fingerprint = fingerprint_training.python_func(
        x_train=x_train, model_type="logistic_regression", hyperparameters={"C": 1.0}, decision_threshold=0.5,
        search_space=[], search_cv_folds=3, search_budget={})
    assert fingerprint == training_fingerprint(
        "d" * 64, target_column="Churn", positive_label="Yes", test_size_ratio=0.2, random_state=42,
        model_type="logistic_regression", hyperparameters={"C": 1}, decision_threshold=0.5)


def test_resolve_then_batch_predict(trained_run, synthetic_csv, tmp_path):
    model = artifact(dsl.Model, tmp_path, "model")
    resolve_model.python_func(model_uri=f"runs:/{trained_run['run_id']}/model",
                              mlflow_tracking_uri=trained_run["tracking_uri"], model=model)
    assert {key: model.metadata[key] for key in ("model_name", "model_version", "run_id")} == {
        "model_name": "churn-classifier", "model_version": "1", "run_id": trained_run["run_id"]}
    assert json.loads((tmp_path / "model").read_text())["model_uri"] == "models:/churn-classifier/1"

    predictions, rejections = artifact(dsl.Dataset, tmp_path, "predictions"), artifact(dsl.Dataset, tmp_path, "rej")
    summary = batch_predict.python_func(model=model, input_uri=str(synthetic_csv), predictions=predictions,
                                        rejections=rejections, chunk_rows=2000,
                                        max_rejected_fraction=0.01, max_unseen_fraction=0.01, allow_blank_columns=False)
    assert (summary["rows"], summary["rejected"], summary["model_version"]) == (5000, 0, "1")
    assert (summary["unseen_categories"], summary["unseen_category_rows"]) == ({}, 0)  # the training data itself
    assert predictions.metadata == {"model_name": "churn-classifier", "model_version": "1", "rows": 5000}
    scored = pd.read_csv(predictions.path, dtype=str)
    assert len(scored) == 5000 and set(scored["model_version"]) == {"1"}
