"""Parameters taken from a ConfigMap, read with the kubernetes client through a kubeconfig."""

from __future__ import annotations

import pytest
import yaml
from support.environments import ENVIRONMENTS
from support.paths import REPO

REF = {"valueFrom": {"configMapKeyRef": {"name": "churnops-config", "key": "MLFLOW_TRACKING_URI"}}}


@pytest.fixture
def kubeconfig(kfp_server, tmp_path, monkeypatch):
    """A kubeconfig whose cluster is the local server (it also answers the ConfigMap reads)."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "local",
        "clusters": [{"name": "local", "cluster": {"server": kfp_server.url}}],
        "users": [{"name": "sync", "user": {"token": "t"}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "sync"}}],
    }), encoding="utf-8")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return path


def with_ref(doc: dict) -> dict:
    doc["recurring_runs"][0]["parameters"]["mlflow_tracking_uri"] = REF
    return doc


def test_a_config_map_value_becomes_the_parameter_and_its_change_replaces_the_run(
        kubeconfig, sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    kfp_server.config_maps[("kubeflow", "churnops-config")] = {"MLFLOW_TRACKING_URI": "http://mlflow-a:5000"}
    config = write_schedules(with_ref(schedules_doc()))

    assert sync(config).code == 3
    (weekly,) = runs_by_name()["weekly"]
    assert weekly["runtime_config"]["parameters"]["mlflow_tracking_uri"] == "http://mlflow-a:5000"
    kfp_server.reset_calls()
    assert sync(config).code == 0 and kfp_server.mutating_calls() == []
    assert [c.path for c in kfp_server.calls if c.path.startswith("/api/v1")] == [
        "/api/v1/namespaces/kubeflow/configmaps/churnops-config"]

    kfp_server.config_maps[("kubeflow", "churnops-config")]["MLFLOW_TRACKING_URI"] = "http://mlflow-b:5000"
    changed = sync(config)

    assert changed.code == 3 and "parameters mlflow_tracking_uri" in changed.out
    (weekly,) = runs_by_name()["weekly"]
    assert weekly["runtime_config"]["parameters"]["mlflow_tracking_uri"] == "http://mlflow-b:5000"


@pytest.mark.parametrize(("config_maps", "words"), [
    ({}, "cannot read ConfigMap churnops-config in namespace kubeflow (HTTP 404"),
    ({("kubeflow", "churnops-config"): {"MODEL_NAME": "m"}}, "has no key MLFLOW_TRACKING_URI (it has: MODEL_NAME)"),
], ids=["missing-config-map", "missing-key"])
def test_a_missing_config_map_or_key_stops_before_any_kfp_call(
        kubeconfig, sync, kfp_server, write_schedules, schedules_doc, config_maps, words):
    kfp_server.config_maps.update(config_maps)

    result = sync(write_schedules(with_ref(schedules_doc())))

    assert result.code == 5
    assert words in result.err and "nothing was changed" in result.err
    assert not [c for c in kfp_server.calls if c.path.startswith("/apis/")]


def test_check_validates_the_reference_without_reading_it(write_schedules, schedules_doc, sync, kfp_server):
    doc = with_ref(schedules_doc())
    doc["recurring_runs"][0]["parameters"]["random_state"] = REF

    result = sync(write_schedules(doc), "--check")

    assert result.code == 4
    assert "'random_state' is Integer; only String parameters can come from a ConfigMap" in result.err
    assert kfp_server.calls == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_shipped_schedules_sync_against_the_cluster_config_map(kubeconfig, sync, kfp_server, runs_by_name, env):

    kfp_server.config_maps[("kubeflow", "churnops-config")] = {
        "MLFLOW_TRACKING_URI": "http://mlflow.mlflow.svc.cluster.local:5000",
        "MLFLOW_EXPERIMENT_NAME": "churn", "MODEL_NAME": "churn-classifier"}
    config = REPO / "schedules" / f"{env}.yaml"

    assert sync(config, "--prune").code == 3
    shipped = [runs[0] for runs in runs_by_name().values()]
    assert len(shipped) == 2  # the retraining and the scoring run
    (training,) = [run_ for run_ in shipped if "dataset_uri" in run_["runtime_config"]["parameters"]]
    assert training["runtime_config"]["parameters"]["model_name"] == "churn-classifier"
    for run_ in shipped:
        assert run_["runtime_config"]["parameters"]["mlflow_tracking_uri"] == "http://mlflow.mlflow.svc.cluster.local:5000"
        assert run_["service_account"] == "churnops-pipeline-runner" and run_["status"] == "ENABLED"
    kfp_server.reset_calls()
    assert sync(config, "--prune").code == 0 and kfp_server.mutating_calls() == []
