"""The training pipeline run by KFP's local runner, then the MLflow store read back."""

from __future__ import annotations

import json
import re

import mlflow
import pandas as pd
import pytest

from churnops.app import runs
from churnops.errors import ChurnopsError

pytestmark = pytest.mark.e2e


def client_for(result) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=result["tracking_uri"], registry_uri=result["tracking_uri"])


def test_run_is_tracked_with_params_and_metrics(trained_run):
    client = client_for(trained_run)
    experiment = client.get_experiment_by_name("churn")
    assert experiment is not None and experiment.experiment_id == trained_run["experiment_id"]
    # The embedded store keeps artifacts beside its database, not in whatever cwd the steps had.
    assert experiment.artifact_location.startswith((trained_run["home"] / "mlflow").as_uri())
    run = client.get_run(trained_run["run_id"])
    assert run.data.params["model_type"] == "logistic_regression"
    assert run.data.params["dataset_sha256"] == trained_run["tags"]["dataset_sha256"]
    for name, value in trained_run["metrics"].items():
        assert run.data.metrics[f"test_{name}"] == pytest.approx(value)
    assert trained_run["metrics"]["roc_auc"] > 0.8


def test_first_registered_version_passes_the_gate_and_becomes_champion(trained_run):
    client = client_for(trained_run)
    version = client.get_model_version("churn-classifier", trained_run["model_version"])
    # The registration step tags it pending; the validation gate (a later step) decides.
    assert version.tags["validation_status"] == "passed"
    assert json.loads(version.tags["validation_evidence"])["compared_champion"] == "none"
    assert version.run_id == trained_run["run_id"]
    assert trained_run["aliases"]["candidate-latest"] == trained_run["model_version"]
    assert trained_run["aliases"]["champion"] == trained_run["model_version"]
    assert trained_run["promoted"] is True


def test_registered_model_loads_by_uri_and_scores_raw_rows(trained_run, synthetic_csv):
    mlflow.set_tracking_uri(trained_run["tracking_uri"])
    mlflow.set_registry_uri(trained_run["tracking_uri"])  # not another module's registry in this worker
    model = mlflow.pyfunc.load_model(trained_run["model_uri"])
    raw = pd.read_csv(synthetic_csv, nrows=20).drop(columns=["Churn"])
    schema = model.metadata.get_input_schema()
    schema_columns = schema.input_names()
    # identifiers may come with raw rows (optional inputs), never as required features
    assert "customerID" in schema.optional_input_names() and "customerID" not in schema.required_input_names()
    assert "TotalCharges" in schema.required_input_names()
    predictions = model.predict(raw[schema_columns].astype({"TotalCharges": "float64", "tenure": "float64",
                                                            "SeniorCitizen": "float64", "MonthlyCharges": "float64"}))
    # the pyfunc (issue 16): probabilities and the decision at the logged threshold, per row
    assert len(predictions) == 20 and {"churn_probability", "churn_predicted"} <= set(predictions.columns)
    assert set(predictions["churn_predicted"].unique()) <= {0, 1}
    assert predictions["churn_probability"].between(0, 1).all()


def test_bad_dataset_stops_the_pipeline_before_anything_is_registered(tmp_path, synthetic_csv):
    bad = tmp_path / "no_target.csv"
    pd.read_csv(synthetic_csv, nrows=100).drop(columns=["Churn"]).to_csv(bad, index=False)
    home = tmp_path / "home"
    # `runs.train` validates the dataset while fingerprinting it, before any step starts.
    with pytest.raises(ChurnopsError, match=r"Target column 'Churn' is not in the dataset.*--target"):
        runs.train(str(bad), home=home)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    assert client.search_registered_models() == []


@pytest.mark.telco
def test_real_telco_file_reaches_the_quality_bar(telco_csv, tmp_path):
    result = runs.train(str(telco_csv), home=tmp_path / "home")
    assert result["metrics"]["roc_auc"] >= 0.83


def test_the_run_names_its_dataset_and_kfp_run_and_the_version_reads_at_a_glance(trained_run):
    """Issue 13: lineage both ways, on what kfp.local really fills in, and at most 12 version tags."""
    from churnops import names

    client = client_for(trained_run)
    run = client.get_run(trained_run["run_id"])
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.name == "churn_synthetic"
    assert dataset.dataset.digest == trained_run["tags"]["dataset_sha256"][:36]
    assert json.loads(dataset.dataset.source)["uri"].endswith("churn_synthetic.csv")
    assert json.loads(dataset.dataset.profile)["num_rows"] > 0
    assert "MonthlyCharges" in dataset.dataset.schema
    assert [(t.key, t.value) for t in dataset.tags] == [("mlflow.data.context", "training")]
    # kfp.local fills the job id and name placeholders, as KFP does on a cluster.
    tags = run.data.tags
    assert tags[names.RUN_TAG_KFP_PIPELINE] == "churn-training"
    # kfp 2.17.3 kfp/local/placeholder_utils.py make_random_id: str(random.randint(0, 99999999)), so
    # 1 to 8 digits (the old `len >= 8` failed about one run in ten)
    assert re.fullmatch(r"[0-9]{1,8}", tags[names.RUN_TAG_KFP_RUN_ID]), tags[names.RUN_TAG_KFP_RUN_ID]
    assert tags[names.RUN_TAG_KFP_RUN_NAME].startswith("churn-training")
    assert run.info.run_name.startswith("churn_synthetic: ") and run.info.run_name.endswith("(best of 7)")
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags[names.EXPERIMENT_TAG_KIND] == names.EXPERIMENT_KIND_MODEL_TRAINING
    assert experiment.tags[names.EXPERIMENT_TAG_DESCRIPTION].startswith("churnops:")
    version = client.get_model_version("churn-classifier", trained_run["model_version"])
    assert version.tags[names.TAG_KFP_RUN] == tags[names.RUN_TAG_KFP_RUN_ID]
    assert set(version.tags) <= set(names.VERSION_TAGS) and len(version.tags) <= 13, sorted(version.tags)
    # the role first (the MLflow version page shows it above the fold), then the gate's dated record
    assert version.description.startswith("CHAMPION since "), version.description
    assert f". v{version.version} trained on churn_synthetic@" in version.description
    model = client.get_registered_model("churn-classifier")
    assert model.description.startswith(f"Champion: v{version.version} since "), model.description
    assert f"models:/churn-classifier@{names.ALIAS_CHAMPION}" in model.description
