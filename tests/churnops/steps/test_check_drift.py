"""The drift check on the session's trained version: its profile from the registry, the report in MLflow."""

from __future__ import annotations

import json

import mlflow
import pytest
from support.drift_batches import write_batches

from churnops import defaults, names
from churnops.errors import ChurnopsError, RegistryError
from churnops.registry import profiles
from churnops.registry.loading import resolve
from churnops.steps import check_drift
from churnops.steps.batch_predict import predict_file


@pytest.fixture(scope="module")
def client(trained_run):
    uri = trained_run["tracking_uri"]
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def batches(synthetic_csv, tmp_path_factory):
    """1000 rows drawn from the training data, and the same rows shifted (tenure, MonthlyCharges, a new Contract)."""
    return write_batches(synthetic_csv, tmp_path_factory.mktemp("batches"), seed=7)


def test_every_registered_version_has_its_profile_readable_from_models_uri(trained_run, client):
    profile = profiles.load_profile(client, f"models:/churn-classifier/{trained_run['model_version']}")
    assert profile["schema_version"] == 1 and profile["run_id"] == trained_run["run_id"]
    assert {"tenure", "MonthlyCharges", "Contract"} <= set(profile["features"])
    assert profile["training_rows"] == 4000 and profile["holdout_rows"] == 1000
    assert sum(profile["score"]["shares"]) == pytest.approx(1)


def test_a_run_without_a_profile_says_how_to_get_one(client, trained_run):
    experiment = client.get_experiment_by_name(defaults.EXPERIMENT)
    bare = client.create_run(experiment.experiment_id)
    with pytest.raises(RegistryError, match=r"has no reference profile .*retrain \(`churnops train --force`\)"):
        profiles.load_run_profile(client, bare.info.run_id, "old v0")


@pytest.mark.parametrize(("batch", "verdict", "drifted"), [
    ("ok.csv", "ok", []),
    ("drifted.csv", "drifted", ["Contract", "MonthlyCharges", "tenure"]),
])
def test_the_check_logs_a_run_tagged_with_the_version_holding_the_report(trained_run, client, batches, tmp_path,
                                                                         batch, verdict, drifted, event_sink):
    resolved = resolve(f"models:/churn-classifier/{trained_run['model_version']}", client)
    predictions = tmp_path / "predictions.csv"
    predict_file(resolved, str(batches / batch), str(predictions), str(tmp_path / "rejected.csv"),
                 tracking_uri=trained_run["tracking_uri"])
    metadata = {**resolved.to_dict(), "mlflow_tracking_uri": trained_run["tracking_uri"]}
    result = check_drift.run(metadata, [str(batches / batch)], [str(predictions)], thresholds=defaults.DRIFT_THRESHOLDS,
                             experiment_name="drift-checks", html_path=str(tmp_path / "r.html"),
                             markdown_path=str(tmp_path / "r.md"), chunk_rows=300)
    assert (result["verdict"], sorted(result["drifted_features"]), result["rows"]) == (verdict, drifted, 1000)
    run = client.get_run(result["drift_run_id"])
    assert run.data.tags[names.RUN_TAG_MODEL_VERSION] == trained_run["model_version"]
    assert run.data.tags[names.RUN_TAG_DRIFT_VERDICT] == verdict
    assert run.data.metrics["drift_verdict_code"] == {"ok": 0, "drifted": 2}[verdict]
    assert client.get_experiment(run.info.experiment_id).name == "drift-checks"
    page = client.download_artifacts(run.info.run_id, names.ARTIFACT_DRIFT_REPORT, str(tmp_path))
    assert f">{verdict}</span>" in open(page, encoding="utf-8").read()
    stored = json.loads(open(client.download_artifacts(run.info.run_id, names.ARTIFACT_DRIFT_JSON, str(tmp_path))).read())
    assert stored["verdict"] == verdict and stored["score"]["name"] == "churn_probability"
    assert (tmp_path / "r.md").read_text().startswith(f"# Drift: **{verdict}**")
    # issue 27: announced, and on the registered model for the predictor's churnops_drift_verdict gauge
    assert event_sink.kinds() == ["drift.verdict"]
    last = json.loads(client.get_registered_model("churn-classifier").tags[names.TAG_LAST_DRIFT])
    assert (last["verdict"], last["version"], last["run_id"]) == (verdict, trained_run["model_version"],
                                                                 result["drift_run_id"])


def test_a_sharded_check_of_a_manifest_without_parts_says_what_to_check(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"parts": [], "rows": 0}')
    with pytest.raises(ChurnopsError, match=r"manifest.json lists no parts.*input_uri"):
        check_drift.run_sharded({}, str(manifest), thresholds={}, experiment_name="x", html_path=str(tmp_path / "r.html"),
                         markdown_path=str(tmp_path / "r.md"))
