"""The issue-17 components through `.python_func` with real artifacts under tmp_path."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
from kfp import dsl
from support.artifacts import artifact

from churnops import defaults
from components import batch_predict, check_drift, profile_reference, publish_predictions, resolve_model, trigger_retrain


@pytest.fixture(scope="module")
def scored(trained_run, synthetic_csv, tmp_path_factory):
    """The trained version resolved and 1000 training-distribution rows scored, as the pipeline hands them on."""
    folder = tmp_path_factory.mktemp("scored")
    rows = pd.read_csv(synthetic_csv, dtype=str, keep_default_na=False).sample(1000, random_state=5).drop(columns=["Churn"])
    rows.to_csv(folder / "in.csv", index=False)
    model = artifact(dsl.Model, folder, "model")
    resolve_model.python_func(model_uri="models:/churn-classifier/1", mlflow_tracking_uri=trained_run["tracking_uri"],
                              model=model)
    predictions, rejections = artifact(dsl.Dataset, folder, "predictions"), artifact(dsl.Dataset, folder, "rejections")
    batch_predict.python_func(model=model, input_uri=str(folder / "in.csv"), predictions=predictions,
                              rejections=rejections, chunk_rows=400, max_rejected_fraction=0.01,
                              max_unseen_fraction=0.01, allow_blank_columns=False)
    return {"folder": folder, "model": model, "predictions": predictions, "rejections": rejections}


def test_profile_reference_writes_the_profile_it_logs(trained_run, tmp_path):
    import mlflow

    from churnops.core.profile import SCHEMA_VERSION

    run = mlflow.MlflowClient(tracking_uri=trained_run["tracking_uri"]).get_run(trained_run["run_id"])
    outputs = trained_run["home"] / "local_outputs"  # the session's training run wrote its splits here
    x_train, x_test = next(outputs.rglob("x_train")), next(outputs.rglob("x_test"))
    model = artifact(dsl.Model, tmp_path, "model", {"model_uri": f"runs:/{run.info.run_id}/model", "run_id": run.info.run_id,
                                                    "mlflow_tracking_uri": trained_run["tracking_uri"]})
    profile = artifact(dsl.Artifact, tmp_path, "profile")
    summary = profile_reference.python_func(
        x_train=dsl.Dataset(name="x_train", uri=str(x_train)), x_test=dsl.Dataset(name="x_test", uri=str(x_test)),
        model=model, model_name="churn-classifier", profile=profile)
    stored = json.loads((tmp_path / "profile").read_text())
    assert stored["schema_version"] == SCHEMA_VERSION == summary["schema_version"]
    assert summary["profile_uri"] == f"runs:/{run.info.run_id}/reference/profile.json"
    assert profile.metadata["training_rows"] == stored["training_rows"] == 4000


def test_check_drift_shows_metrics_html_and_markdown_in_kfp(scored, tmp_path):
    metrics, report, summary = (artifact(dsl.Metrics, tmp_path, "metrics"), artifact(dsl.HTML, tmp_path, "report"),
                                artifact(dsl.Markdown, tmp_path, "summary"))
    result = check_drift.python_func(model=scored["model"], input_uri=str(scored["folder"] / "in.csv"),
                                     predictions=scored["predictions"], drift_thresholds=dict(defaults.DRIFT_THRESHOLDS),
                                     mlflow_experiment_name="churn", chunk_rows=250, kfp_run_id="kfp-run-8",
                                     metrics=metrics, report=report, summary=summary)
    assert result["verdict"] == "ok" and result["drifted_features"] == []
    drift_run = mlflow.MlflowClient(tracking_uri=scored["model"].metadata["mlflow_tracking_uri"]).get_run(
        result["drift_run_id"])
    assert drift_run.data.tags["kfp.run_id"] == "kfp-run-8"  # the exit handler's key
    assert metrics.metadata["drift_verdict_code"] == 0 and "psi_tenure" in metrics.metadata
    assert report.metadata["verdict"] == "ok" and (tmp_path / "report").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "summary").read_text().startswith("# Drift: **ok**")


def test_publish_predictions_writes_to_output_uri(scored, tmp_path):
    target = tmp_path / "out" / "p.csv"
    result = publish_predictions.python_func(predictions=scored["predictions"], rejections=scored["rejections"],
                                             output_uri=target.as_uri())
    assert result == {"output_uri": str(target), "rejections_uri": "", "rows": 1000, "rejected": 0}
    assert target.read_bytes() == open(scored["predictions"].path, "rb").read()


def test_trigger_retrain_records_a_skip_without_contacting_kfp(tmp_path):
    decision = artifact(dsl.Markdown, tmp_path, "decision")
    result = trigger_retrain.python_func(drift={"verdict": "ok", "report_uri": "file:///r.html"}, retrain_on_drift=True,
                                         kfp_host="http://127.0.0.1:9", kfp_namespace="", retrain_recurring_run="w",
                                         retrain_window_seconds=60, decision=decision)
    assert result["action"] == "skip"
    assert (tmp_path / "decision").read_text().startswith("# Retrain: **skip**")
