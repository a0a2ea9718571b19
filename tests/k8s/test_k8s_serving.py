"""The online-serving bundle: the KServe InferenceService per environment, rendered with the real kubectl
and checked against the CRD schema generated from the `kserve` package (scripts/k8s/generate_kserve_schema.py)."""

from __future__ import annotations

import copy
import shutil

import generate_kserve_schema  # scripts/k8s, put on sys.path by k8s_helpers
import pytest
from k8s_helpers import ROOT, argocd_apps, build, find, validate
from support.environments import ENVIRONMENTS


def isvc(objects: list[dict]) -> dict:
    return find(objects, "InferenceService", "churn-classifier", "churnops-serving")


def env_value(objects: list[dict], service: dict, name: str) -> str:
    container = service["spec"]["predictor"]["containers"][0]
    ref = next(env for env in container["env"] if env["name"] == name)["valueFrom"]["configMapKeyRef"]
    config_map = next(obj for obj in objects if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == ref["name"])
    return config_map["data"][ref["key"]]


def test_the_vendored_schema_is_what_the_pinned_kserve_generates():
    assert generate_kserve_schema.main(["--check"]) == 0


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_renders_a_valid_inference_service_that_follows_the_champion(env):
    objects = build(f"k8s/overlays/{env}/serving")
    assert validate.check_schema(objects, validate.load_crd_schemas()) == []
    service = isvc(objects)
    assert env_value(objects, service, "MODEL_URI") == "models:/churn-classifier@champion"
    assert service["spec"]["predictor"]["serviceAccountName"] == "churnops-predictor"
    container = service["spec"]["predictor"]["containers"][0]
    assert "--tracking-uri=$(MLFLOW_TRACKING_URI)" in container["args"]
    assert not any("AWS_" in str(env) or "GOOGLE_" in str(env) for env in container.get("env", []))  # no bucket credentials


@pytest.mark.parametrize("typo", [("minReplica", 2), ("canaryTrafficPercnt", 10)])
def test_the_schema_rejects_a_misspelt_predictor_field(typo):
    service = copy.deepcopy(isvc(build("k8s/overlays/prod/serving")))
    service["spec"]["predictor"][typo[0]] = typo[1]
    errors = validate.check_schema([service], validate.load_crd_schemas())
    assert errors and typo[0] in errors[0], errors


def test_prod_keeps_two_replicas_behind_a_disruption_budget_and_rolls_out_by_canary():
    objects = build("k8s/overlays/prod/serving")
    predictor = isvc(objects)["spec"]["predictor"]
    assert predictor["minReplicas"] == 2 and predictor["canaryTrafficPercent"] == 10
    budget = find(objects, "PodDisruptionBudget", "churn-classifier-predictor", "churnops-serving")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": "churn-classifier"}
    dev = isvc(build("k8s/overlays/dev/serving"))["spec"]["predictor"]
    assert dev["minReplicas"] == 1 and "canaryTrafficPercent" not in dev


def test_the_predictor_reaches_only_mlflow_and_dns(tmp_path):
    objects = build("k8s/overlays/prod/serving")
    egress = find(objects, "NetworkPolicy", "allow-predictor-egress", "churnops-serving")["spec"]["egress"]
    targets = [(rule["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                sorted(port["port"] for port in rule["ports"])) for rule in egress]
    assert targets == [("mlflow", [5000]), ("kube-system", [53, 53])]
    mlflow_side = find(objects, "NetworkPolicy", "allow-mlflow-ingress-from-predictor", "mlflow")
    assert mlflow_side["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5000}]


def test_a_pinned_version_is_a_new_revision_of_the_predictor(tmp_path):
    """The serving-pinned component: MODEL_URI models:/NAME/N, under a new ConfigMap name (a new revision)."""
    overlay = tmp_path / "k8s" / "overlays" / "pinned" / "serving"
    shutil.copytree(ROOT / "k8s" / "components", tmp_path / "k8s" / "components")
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncomponents:\n"
        "  - ../../../components/serving\n  - ../../../components/serving-pinned\n")
    objects, error = validate.build_kustomization(overlay)
    assert not error, error
    pinned = isvc(objects)
    assert env_value(objects, pinned, "MODEL_URI") == "models:/churn-classifier/1"
    following = isvc(build("k8s/overlays/dev/serving"))
    name = lambda service: service["spec"]["predictor"]["containers"][0]["env"][0]["valueFrom"]["configMapKeyRef"]["name"]  # noqa: E731
    assert name(pinned) != name(following)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_argo_cd_syncs_serving_after_the_mlflow_stack(env):
    apps = {app["metadata"]["name"]: app for app in argocd_apps(env) if app["kind"] == "Application"}
    wave = lambda name: int(apps[f"{name}-{env}"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])  # noqa: E731
    assert wave("churnops-serving") > wave("churnops-mlflow")
    assert apps[f"churnops-serving-{env}"]["spec"]["source"]["path"] == f"k8s/overlays/{env}/serving"


# Issue 25: the InferenceService had no cluster-local visibility and no authorization, and its NetworkPolicy
# admitted every pod of istio-system and knative-serving: anyone reaching the gateway could unload the model.
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_predictor_is_cluster_local_and_keeps_the_activator_out_of_the_path(env):
    service = isvc(build(f"k8s/overlays/{env}/serving"))
    labels, annotations = service["metadata"]["labels"], service["metadata"]["annotations"]
    assert labels["networking.knative.dev/visibility"] == labels["networking.kserve.io/visibility"] == "cluster-local"
    assert annotations["autoscaling.knative.dev/target-burst-capacity"] == "0"
    assert service["spec"]["predictor"]["minReplicas"] >= 1  # never scaled to zero: no activator in the path


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_named_callers_may_predict_and_only_what_the_predictor_serves(env):
    from churnops.serving import exposure

    objects = build(f"k8s/overlays/{env}/serving")
    assert validate.check_schema(objects, validate.load_crd_schemas()) == []
    policy = find(objects, "AuthorizationPolicy", "churn-classifier-callers", "churnops-serving")
    spec = policy["spec"]
    assert spec["action"] == "ALLOW"
    assert spec["selector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": "churn-classifier"}
    callers, knative = spec["rules"]
    assert callers["from"] == [{"source": {"principals": ["cluster.local/ns/churnops-serving/sa/churnops-predictor-client"]}}]
    find(objects, "ServiceAccount", "churnops-predictor-client", "churnops-serving")
    gate = exposure.Gate(None, exposure.mounted_routes(exposure.Exposure(1)), 1)
    allowed = [(method, path) for operation in callers["to"] for method in operation["operation"]["methods"]
               for path in operation["operation"]["paths"]]
    assert ("POST", "/v1/models/churn-classifier:predict") in allowed and ("POST", "/v2/models/churn-classifier/infer") in allowed
    assert [route for route in allowed if not gate.admits(*route)] == []  # nothing the predictor would not serve
    assert not any("repository" in path or path in ("/docs", "/openapi.json", "/metrics") for _, path in allowed)
    assert knative["from"] == [{"source": {"namespaces": ["knative-serving"]}}]
    assert [operation["operation"] for operation in knative["to"]] == [
        {"ports": ["9090"]}, {"methods": ["GET"], "paths": ["/v2/health/ready", "/v2/health/live"]}]


def test_no_namespace_is_admitted_whole_to_the_predictor():
    objects = build("k8s/overlays/prod/serving")
    ingress = find(objects, "NetworkPolicy", "allow-predictor-ingress", "churnops-serving")["spec"]["ingress"]
    peers = [peer for rule in ingress for peer in rule["from"]]
    assert peers and all(peer.get("podSelector", {}).get("matchLabels") for peer in peers), peers
    namespaces = {peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") for peer in peers}
    assert "istio-system" not in namespaces
