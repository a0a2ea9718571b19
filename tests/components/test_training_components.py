"""The components themselves, called through `.python_func` with real artifacts under tmp_path."""

from __future__ import annotations

import json

import mlflow
import pytest
from kfp import dsl
from support.artifacts import artifact

from churnops.errors import DatasetError
from components import evaluate_model, load_and_preprocess_data, register_model, train_model

# What the training pipeline passes the load step (components have no defaults of their own).
LOAD = {"test_size_ratio": 0.2, "target_column": "Churn", "random_state": 42, "positive_label": ""}


@pytest.fixture
def split(tmp_path, synthetic_csv):
    outputs = {name: artifact(dsl.Dataset, tmp_path, name) for name in ("x_train", "y_train", "x_test", "y_test")}
    load_and_preprocess_data.python_func(dataset_uri=str(synthetic_csv), **LOAD, **outputs)
    return outputs


def test_load_writes_four_csvs_with_lineage_metadata(split):
    assert split["x_train"].metadata["rows"] == 5000
    assert split["x_train"].metadata["train_rows"] == 4000
    assert split["y_test"].metadata["positive_label"] == "Yes"
    assert len(split["x_train"].metadata["dataset_sha256"]) == 64
    header = open(split["x_test"].path).readline()
    assert header.startswith("customerID,") and "Churn" not in header
    assert open(split["y_test"].path).readline().strip() == "Churn"


def test_load_stops_on_bad_data_before_writing_anything(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customerID,Churn\n" + "".join(f"c{i},No\n" for i in range(30)))
    outputs = {name: artifact(dsl.Dataset, tmp_path, name) for name in ("x_train", "y_train", "x_test", "y_test")}
    with pytest.raises(DatasetError, match="single class"):
        load_and_preprocess_data.python_func(dataset_uri=str(bad), **LOAD, **outputs)
    assert not any((tmp_path / name).exists() for name in outputs)


def test_train_evaluate_register_chain(tmp_path, split, tracking_uri):
    model = artifact(dsl.Model, tmp_path, "model")
    model_uri = train_model.python_func(
        x_train=split["x_train"], y_train=split["y_train"], mlflow_tracking_uri=tracking_uri,
        mlflow_experiment_name="components", model_name="churn-components", model=model,
        model_type="logistic_regression", hyperparameters={"C": 0.5}, random_state=42, candidate={},
    )
    assert model_uri == model.metadata["model_uri"]
    assert (tmp_path / "model" / "MLmodel").exists()  # the lineage copy is a loadable MLflow model

    metrics = artifact(dsl.Metrics, tmp_path, "metrics")
    curves = artifact(dsl.ClassificationMetrics, tmp_path, "curves")
    result = evaluate_model.python_func(
        x_test=split["x_test"], y_test=split["y_test"], model=model, metrics=metrics, classification_metrics=curves,
        decision_threshold=0.5,
    )
    assert set(result) == {"roc_auc", "accuracy", "precision", "recall", "f1", "log_loss"}
    assert result["roc_auc"] > 0.8
    assert metrics.metadata["roc_auc"] == result["roc_auc"]
    assert curves.metadata["confusionMatrix"]["annotationSpecs"][1]["displayName"] == "churn"
    assert len(curves.metadata["confidenceMetrics"]) > 10

    run = mlflow.get_run(model.metadata["run_id"])
    assert run.data.params["hp_C"] == "0.5"
    assert run.data.metrics["test_roc_auc"] == pytest.approx(result["roc_auc"])
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/roc_curve.png", "evaluation/confusion_matrix.png"} <= artifacts

    version = register_model.python_func(model=model, model_name="churn-components", test_metrics=result,
                                         fingerprint="", force=False)
    registered = mlflow.MlflowClient().get_model_version("churn-components", version)
    assert registered.tags["validation_status"] == "pending"
    assert registered.run_id == model.metadata["run_id"]
    aliases = mlflow.MlflowClient().get_registered_model("churn-components").aliases
    assert {alias: str(number) for alias, number in aliases.items()} == {"candidate-latest": version}

    from components import promote_model

    comparison = artifact(dsl.Metrics, tmp_path, "comparison")
    decision = promote_model.python_func(
        model=model, x_test=split["x_test"], y_test=split["y_test"], model_name="churn-components",
        model_version=version, comparison=comparison, promotion_thresholds={"roc_auc": 0.5},
        promotion_metric="roc_auc", promotion_tolerance=0.005, decision_threshold=0.5,
        promotion_min_test_rows=101, promotion_min_class_rows=11, promotion="auto", promotion_guard="report",
        approval_hours=72.0)
    assert decision["promoted"] is True
    # The holdout minimums the pipeline passes are the ones the gate applied (and recorded).
    evidence = json.loads(mlflow.MlflowClient().get_model_version("churn-components", version).tags[
        "validation_evidence"])
    assert (evidence["min_test_rows"], evidence["min_class_rows"]) == (101, 11)
    # Issue 13: KFP's side links back to the MLflow version and run.
    assert comparison.metadata["model_version_uri"] == f"models:/churn-components/{version}"
    assert comparison.metadata["mlflow_run_uri"] == f"runs:/{model.metadata['run_id']}"
    holdout = {item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id, "evaluation/holdout")}
    assert holdout == {"evaluation/holdout/x_test.csv", "evaluation/holdout/y_test.csv"}  # models list / compare read it
