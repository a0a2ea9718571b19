"""The full flow on the production topology: PostgreSQL metadata, S3 or GCS artifacts.

One training run per artifact mode (each leg reads its dataset from a different kind of URI), its
promotion to `champion`, and batch inference with the champion on the leg's dataset URI. The model
is checked where users will look for it: loadable through the registry and present in the bucket.
Credentials reach the steps only through the environment, and no log holds the secret.
"""

from __future__ import annotations

import contextlib

import mlflow
import pandas as pd
import pytest

from churnops import names
from churnops.app import runs

pytestmark = pytest.mark.integration

# leg -> (server, dataset URI kind). proxied-s3 runs with no AWS variables at all: the server writes.
LEGS = {
    "proxied-s3": ("proxied-s3", "http"),
    "direct-s3": ("direct-s3", "s3"),
    "proxied-gcs": ("proxied-gcs", "gs"),
}
AWS_CLIENT_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL")


@contextlib.contextmanager
def client_environment(mode: str):
    """What a pipeline pod of this leg gets: proxied legs run with no AWS variables at all."""
    patch = pytest.MonkeyPatch()
    if mode.startswith("proxied"):
        for name in AWS_CLIENT_VARIABLES:
            patch.delenv(name, raising=False)
    try:
        yield
    finally:
        patch.undo()


@pytest.fixture(scope="module", params=list(LEGS))
def trained(request, topology, dataset_uris, tmp_path_factory):
    """One training run per leg; the summary plus what the leg ran against."""
    mode, dataset_kind = LEGS[request.param]
    server = topology.servers[mode]
    home = tmp_path_factory.mktemp(f"home-{mode}")
    with client_environment(mode):
        summary = runs.train(
            dataset_uris[dataset_kind],
            tracking_uri=server.url,
            experiment=f"it-{mode}",
            model_name=f"churn-{mode}",
            home=home,
        )
    return {"summary": summary, "server": server, "home": home, "dataset": dataset_uris[dataset_kind], "mode": mode}


def test_version_is_registered_with_candidate_alias_and_dataset_lineage(trained):
    summary = trained["summary"]
    assert summary["aliases"][names.ALIAS_CANDIDATE] == summary["model_version"]
    assert set(summary["tags"]) <= set(names.VERSION_TAGS)  # the source run is the version's own run_id
    assert summary["metrics"]["roc_auc"] > 0.75
    run = mlflow.MlflowClient(tracking_uri=trained["server"].url).get_run(summary["run_id"])
    assert run.data.params["dataset_uri"] == trained["dataset"]
    assert run.info.status == "FINISHED"


def test_model_files_are_in_the_bucket_and_load_through_the_registry(trained, topology, synthetic_csv):
    summary, server = trained["summary"], trained["server"]
    client = mlflow.MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    version = client.get_model_version(summary["model_name"], summary["model_version"])
    model_id = version.source.removeprefix("models:/")  # MLflow 3: the version's source is its logged model
    logged = client.get_logged_model(model_id)
    experiment = client.get_experiment(summary["experiment_id"])
    keys = topology.keys(server.artifact_root)
    model_keys = [key for key in keys if model_id in key]
    assert any(key.endswith("/MLmodel") for key in model_keys), f"no MLmodel for {model_id} in {keys[:20]}"
    assert any(key.endswith("/python_model.pkl") for key in model_keys)  # a pyfunc ChurnModel (issue 16)
    assert any("/code/churnops/registry/serving.py" in key for key in model_keys)  # its code ships with it
    assert any(key.endswith("evaluation/roc_curve.png") and summary["run_id"] in key for key in keys)
    if server.config.proxied:
        assert experiment.artifact_location.startswith("mlflow-artifacts:/")
    else:
        assert logged.artifact_location.startswith(server.artifact_root)

    mlflow.set_tracking_uri(server.url)
    model = mlflow.pyfunc.load_model(summary["model_uri"])
    columns = model.metadata.get_input_schema().input_names()
    frame = pd.read_csv(synthetic_csv, nrows=5)[columns].astype({"SeniorCitizen": "float64", "tenure": "float64"})
    assert len(model.predict(frame)) == 5


def test_first_version_of_each_leg_is_promoted_to_champion(trained):
    summary = trained["summary"]
    assert summary["promoted"] is True
    assert summary["aliases"]["champion"] == summary["model_version"]


def test_champion_scores_the_leg_dataset_through_the_same_server(trained, tmp_path):
    """Inference in the leg's pod environment: proxied legs still need no bucket credentials."""
    summary, server = trained["summary"], trained["server"]
    output = tmp_path / "predictions.csv"
    with client_environment(trained["mode"]):
        result = runs.predict(f"models:/{summary['model_name']}@champion", trained["dataset"], str(output),
                              tracking_uri=server.url, home=trained["home"])
    assert (result["rows"], result["rejected"], result["model_version"]) == (5000, 0, summary["model_version"])
    assert len(pd.read_csv(output)) == 5000


def test_no_log_holds_the_secret(trained, topology):
    """Servers, emulators and the run's step logs: the S3 secret key appears in none of them."""
    texts = [topology.logs_text()]
    texts += [path.read_text(encoding="utf-8", errors="replace") for path in (trained["home"] / "logs").glob("*.log")]
    assert texts[-1], "the run wrote no step log to check"
    for secret in topology.secrets:
        assert all(secret not in text for text in texts)
