"""The bundle's contracts with the other parts of churnops, and what its policies allow."""

from __future__ import annotations

import base64

import pytest
from k8s_helpers import ROOT, argocd_apps, build, find, validate
from support.environments import ENVIRONMENTS

KFP_TAG = "2.17.2"


def secret_data(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def test_tracking_server_is_reachable_at_the_agreed_uri(overlays):
    for objects in overlays.values():
        service = find(objects, "Service", "mlflow", "mlflow")
        assert service["metadata"]["name"] == "mlflow" and service["spec"]["ports"][0]["port"] == 5000
        config = find(objects, "ConfigMap", "churnops-config", "kubeflow")
        assert config["data"] == {"MLFLOW_TRACKING_URI": "http://mlflow.mlflow.svc.cluster.local:5000",
                                  "MLFLOW_EXPERIMENT_NAME": "churn", "MODEL_NAME": "churn-classifier"}


def test_dev_generates_the_pipeline_secrets_under_their_contract_names(dev):
    mlflow = find(dev, "Secret", "churnops-mlflow", "kubeflow")
    artifacts = find(dev, "Secret", "churnops-artifacts", "kubeflow")
    assert mlflow["metadata"]["name"] == "churnops-mlflow"  # read by name from pipeline steps: no hash
    assert secret_data(mlflow) == {"MLFLOW_TRACKING_URI": "http://mlflow.mlflow.svc.cluster.local:5000"}
    assert set(secret_data(artifacts)) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL"}


def test_dev_credentials_are_obviously_dev_and_keep_their_hash_suffix(dev):
    secrets = [o for o in dev if o["kind"] == "Secret" and o["metadata"]["namespace"] == "mlflow"]
    assert len(secrets) == 5  # + minio-steps-credentials, the steps' least-privilege MinIO user
    for secret in secrets:
        assert secret["metadata"]["name"].rsplit("-", 1)[1].isalnum()  # name-suffix hash kept
        passwords = [v for k, v in secret_data(secret).items() if "PASSWORD" in k or "SECRET" in k]
        assert all(v.startswith("dev-only-") for v in passwords)


def test_prod_keeps_no_credentials_in_git(prod):
    assert [o for o in prod if o["kind"] == "Secret"] == []
    assert not any(o["kind"] == "StatefulSet" for o in prod)  # managed database, no MinIO


def test_prod_is_highly_available_with_auth_and_gcs(prod):
    deployment = find(prod, "Deployment", "mlflow", "mlflow")
    assert deployment["spec"]["replicas"] == 2
    assert find(prod, "PodDisruptionBudget", "mlflow")["spec"]["minAvailable"] == 1
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--app-name=basic-auth" in args
    assert any(a.startswith("--artifacts-destination=gs://") for a in args)
    assert "iam.gke.io/gcp-service-account" in find(prod, "ServiceAccount", "mlflow")["metadata"]["annotations"]


def test_pipeline_runner_has_least_privilege(dev):
    role = find(dev, "Role", "churnops-pipeline-runner", "kubeflow")
    for rule in role["rules"]:
        assert "*" not in rule["resources"] + rule["verbs"] + rule["apiGroups"]
        assert set(rule["verbs"]) <= {"get", "create", "patch"}
        if set(rule["resources"]) & {"secrets", "configmaps"}:
            assert rule["verbs"] == ["get"] and rule["resourceNames"]  # read only, and only by name
    assert not any(o["kind"] in ("ClusterRole", "ClusterRoleBinding") for o in dev)
    assert find(dev, "ServiceAccount", "churnops-pipeline-runner", "kubeflow")


def allowed_sources(objects, target_labels, namespace="mlflow"):
    """Pod templates of the render that an ingress rule of the namespace admits to pods with those labels."""
    sources = set()
    policies = [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == namespace]
    for policy in policies:
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if not all(target_labels.get(k) == v for k, v in selector.items()):
            continue
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                for obj in objects:
                    pod = validate.pod_template(obj)
                    if pod is None or "namespaceSelector" in peer:
                        continue
                    labels = pod[0].get("labels", {})
                    if obj["metadata"]["namespace"] == namespace and all(
                            labels.get(k) == v for k, v in peer["podSelector"].get("matchLabels", {}).items()):
                        sources.add(f"{obj['kind']}/{obj['metadata']['name']}")
    return sources


def test_network_policies_default_deny_and_only_mlflow_reaches_the_stores(dev):
    deny = find(dev, "NetworkPolicy", "default-deny", "mlflow")["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress", "Egress"]
    mlflow = {"Deployment/mlflow", "Job/mlflow-db-migrate"}
    assert allowed_sources(dev, {"app.kubernetes.io/name": "postgres"}) == mlflow
    assert allowed_sources(dev, {"app.kubernetes.io/name": "minio"}) == mlflow | {"Job/minio-create-bucket"}


def test_only_pipeline_pods_and_the_ingress_reach_mlflow(dev):
    policy = find(dev, "NetworkPolicy", "allow-mlflow-ingress", "mlflow")
    peers = policy["spec"]["ingress"][0]["from"]
    pipeline, ingress = peers
    assert pipeline["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kubeflow"}
    assert pipeline["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "churnops"}
    assert ingress["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
    assert allowed_sources(dev, {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/component": "server"}) == set()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_argocd_sync_waves_run_database_migration_mlflow_kfp_sync(env):
    apps = {a["metadata"]["name"].removesuffix(f"-{env}"): a for a in argocd_apps(env)}
    assert set(apps) == {"kfp-cluster-resources", "churnops-mlflow", "kfp", "churnops-serving", "churnops-schedules-sync"}
    wave = {name: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for name, a in apps.items()}
    assert wave["kfp-cluster-resources"] < wave["churnops-mlflow"] < wave["kfp"] < wave["churnops-schedules-sync"]
    assert wave["churnops-mlflow"] < wave["churnops-serving"]  # the predictor resolves its model through MLflow
    stack = build(f"k8s/overlays/{env}")
    inner = {o["kind"] + "/" + o["metadata"]["name"]: int(o["metadata"].get("annotations", {}).get(
        "argocd.argoproj.io/sync-wave", 0)) for o in stack}
    if "StatefulSet/postgres" in inner:  # the in-cluster database component
        assert inner["StatefulSet/postgres"] < inner["Job/mlflow-db-migrate"] < inner["Deployment/mlflow"]
    else:
        assert inner["Job/mlflow-db-migrate"] < inner["Deployment/mlflow"]
    for name in ("kfp-cluster-resources", "kfp"):
        source = apps[name]["spec"]["source"]
        assert source["repoURL"] == "https://github.com/kubeflow/pipelines.git" and source["targetRevision"] == KFP_TAG
    assert apps["kfp"]["spec"]["source"]["path"] == "manifests/kustomize/env/platform-agnostic"
    assert apps["churnops-mlflow"]["spec"]["source"]["path"] == f"k8s/overlays/{env}"
    assert apps["churnops-schedules-sync"]["spec"]["source"]["path"] == f"k8s/overlays/{env}/schedules-sync"
    for name in ("kfp-cluster-resources", "kfp"):  # the KFP CRDs are too large for client-side apply
        assert apps[name]["spec"]["syncPolicy"]["syncOptions"] == ["ServerSideApply=true"]
    # the environment's own AppProject, not Argo CD's unrestricted `default` (issue 11 defect 9)
    assert {a["spec"]["project"] for a in apps.values()} == {f"churnops-{env}"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_root_application_points_argocd_at_the_chart_with_the_environment_values(env):
    (root,) = [o for o in argocd_apps(env, "--set", "root=true") if o["kind"] == "Application"]
    assert root["metadata"]["name"] == f"churnops-{env}" and root["spec"]["destination"]["namespace"] == "argocd"
    source = root["spec"]["source"]
    # the root's repoURL is passed on to the children, so a fork (or the loopback git server of
    # make cluster-gitops) is named once: --set repoURL=<fork> on the root
    assert source["path"] == "k8s/argocd" and source["helm"] == {
        "valueFiles": [f"values/{env}.yaml"], "parameters": [{"name": "repoURL", "value": source["repoURL"]}]}
    assert (ROOT / "k8s" / "argocd" / source["helm"]["valueFiles"][0]).is_file()


def test_kfp_manifests_are_referenced_never_copied():
    copied = [p for p in (ROOT / "k8s").rglob("*.yaml") if "ml-pipeline" in p.read_text()
              and "sync_schedules" not in p.read_text() and "kubeflow/pipelines" not in p.read_text()]
    assert copied == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_schedules_sync_is_a_posthook_job_with_its_own_account(env):
    objects = build(f"k8s/overlays/{env}/schedules-sync")
    job = find(objects, "Job", "churnops-schedules-sync", "kubeflow")
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PostSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"].startswith("ghcr.io/churnops/churnops:")  # the tag: test_k8s_versions.py
    assert container["command"] + container["args"] == [
        "python", "scripts/sync_schedules.py", "--config=$(SCHEDULES_CONFIG)",
        "--host=http://ml-pipeline.kubeflow.svc.cluster.local:8888", "--prune", "--changes-exit-code=0"]
    # from git through a generated ConfigMap (tests/k8s/test_k8s_schedules_sync.py), not the image
    assert {"name": "SCHEDULES_CONFIG", "value": f"/etc/churnops/schedules/{env}.yaml"} in container["env"]
    assert pod["serviceAccountName"] == "churnops-schedules-sync"
    role = find(objects, "Role", "churnops-schedules-sync")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "resourceNames": ["churnops-config"], "verbs": ["get"]}]
