"""Each environment's data contract (issue 11 defects 5 and 9) and the policies around it.

The `data` check of scripts/k8s/validate.py: dataset URIs in schedules/<env>.yaml must be readable
with what config/platform/<env>.yaml and the render give steps. On main (5803999) it reports
prod's s3:// datasets without AWS keys, dev's bucket that nothing creates and dev's root MinIO
user for steps; test_main_fails_the_data_contract proves that on main's own files.
"""

from __future__ import annotations

import base64
import copy
import subprocess

import pytest
import yaml
from k8s_helpers import ROOT, argocd_apps, find, validate
from support.environments import ENVIRONMENTS


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_keeps_its_data_contract(overlays, env):
    assert validate.dataset_uris(yaml.safe_load((ROOT / "schedules" / f"{env}.yaml").read_text()))
    assert validate.check_data_contract(env, overlays[env]) == []


def test_main_fails_the_data_contract(tmp_path):
    """Main's schedules, platform files and overlays, built here: every data defect is reported."""
    for part in ("k8s", "schedules", "config", "charts"):
        (tmp_path / part).mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "5803999", "k8s", "schedules", "config"],
                             capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    errors = {}
    for env in ("dev", "prod"):
        objects, error = validate.build_kustomization(tmp_path / "k8s" / "overlays" / env)
        assert not error, error
        errors[env] = "\n".join(validate.check_data_contract(env, objects, root=tmp_path))
    assert "MinIO root user dev-minio-admin" in errors["dev"]
    assert "bucket churnops-data-dev is not created" in errors["dev"]
    assert "gives steps no AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY" in errors["prod"]


def test_gs_without_workload_identity_is_reported(prod):
    objects = copy.deepcopy(prod)
    find(objects, "ServiceAccount", "churnops-pipeline-runner", "kubeflow")["metadata"]["annotations"].clear()
    errors = validate.check_data_contract("prod", objects)
    # one per gs:// URI a recurring run uses: the retraining dataset, the scoring input and output (issue 17),
    # and each run's pipeline root, which KFP's launcher writes with the pod's identity (issue 23)
    assert sorted(error.split(": ", 1)[1].split(" ", 1)[0] for error in errors) == [
        "gs://churnops-data/churn/latest.csv", "gs://churnops-data/churn/predictions/{scheduled_time}.csv",
        "gs://churnops-data/churn/to-score/latest.csv", "gs://churnops-kfp-artifacts/prod",
        "gs://churnops-kfp-artifacts/prod"], errors
    assert all("no iam.gke.io/gcp-service-account annotation" in error for error in errors)


def test_dev_steps_get_the_least_privilege_minio_user(dev):
    def data(secret):
        return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    steps = data(find(dev, "Secret", "churnops-artifacts", "kubeflow"))
    created = data(find(dev, "Secret", "minio-steps-credentials", "mlflow"))
    root = data(find(dev, "Secret", "minio-credentials", "mlflow"))
    assert steps["AWS_ACCESS_KEY_ID"] == created["STEPS_ACCESS_KEY_ID"] != root["MINIO_ROOT_USER"]
    assert steps["AWS_SECRET_ACCESS_KEY"] == created["STEPS_SECRET_ACCESS_KEY"]
    script = find(dev, "Job", "minio-create-bucket", "mlflow")["spec"]["template"]["spec"]["containers"][0]["args"][0]
    # the policy grants the dataset bucket only
    assert "arn:aws:s3:::churnops-data-dev/*" in script and "arn:aws:s3:::mlflow" not in script
    assert "mc admin policy attach local churnops-steps" in script


def test_prod_mlflow_may_reach_the_metadata_server_and_prometheus_may_scrape(prod):
    egress = find(prod, "NetworkPolicy", "allow-mlflow-egress", "mlflow")["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"protocol": "TCP", "port": 80}]} in egress
    scrape = find(prod, "NetworkPolicy", "allow-prometheus-scrape", "mlflow")["spec"]
    monitor = find(prod, "ServiceMonitor", "mlflow", "mlflow")["spec"]
    assert scrape["podSelector"]["matchLabels"].items() <= find(prod, "Deployment", "mlflow", "mlflow")[
        "spec"]["template"]["metadata"]["labels"].items()
    assert scrape["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5000}]
    assert monitor["endpoints"][0]["basicAuth"]["username"]["name"] == "mlflow-metrics-auth"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_applications_use_the_environments_own_project(env):
    project = f"churnops-{env}"
    apps = argocd_apps(env) + [a for a in argocd_apps(env, "--set", "root=true") if a["kind"] == "Application"]
    assert {a["spec"]["project"] for a in apps} == {project}
    (appproject,) = [o for o in argocd_apps(env, "--set", "root=true") if o["kind"] == "AppProject"]
    assert appproject["metadata"]["name"] == project
    assert set(appproject["spec"]["sourceRepos"]) == {a["spec"]["source"]["repoURL"] for a in apps}
    namespaces = {d["namespace"] for d in appproject["spec"]["destinations"]}
    assert {a["spec"]["destination"].get("namespace") for a in apps} - {None} <= namespaces
