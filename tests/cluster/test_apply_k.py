"""`kubectl apply -k ... --server-side` of every environment on an empty cluster with the CRDs
installed, in the order docs/kubernetes.md gives for plain kubectl, against the real kube-apiserver
(schemas, defaulting, PodSecurity admission), KServe's and Knative's own webhooks and controllers.

Under kwok no container runs: a pod that the apiserver admitted is Running and Ready after the stage
delays. So this shows what the control plane decides (admission, the objects the controllers create
and their spec), not what the images do.
"""

from __future__ import annotations

import pytest
import yaml
from cluster_helpers import ROOT, events, kubectl_json, pods, wait_converged
from support.environments import ENVIRONMENTS

from scripts.cluster import gitops, plane

NAMESPACES = ("mlflow", "kubeflow", "churnops-serving")
ISVC = "churn-classifier"


def pull_secrets(env: str) -> set[str]:
    """The image pull Secrets the environment's platform config gives pipeline steps."""
    config = yaml.safe_load((ROOT / "config" / "platform" / f"{env}.yaml").read_text())
    return set(config.get("defaults", {}).get("image_pull_secrets", []))


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def applied(request, empty_cluster_factory):
    """(env, {path: kubectl's result}) after the documented steps; the KFP ones are not reachable here."""
    empty_cluster_factory()
    env = request.param
    plane.apply(gitops.kfp_stand_in(), server_side=False)  # step 1: what KFP's cluster-scoped resources create
    results = {}
    for path in (f"k8s/overlays/{env}", f"k8s/overlays/{env}/serving", f"k8s/overlays/{env}/schedules-sync"):
        results[path] = plane.kubectl("apply", "-k", str(ROOT / path), "--server-side", check=False, timeout=120)
    return env, results


def test_every_object_is_accepted(applied):
    env, results = applied
    failed = {path: r.stderr for path, r in results.items() if r.returncode != 0}
    assert not failed, failed


def test_workloads_converge(applied):
    """Every Deployment and StatefulSet ready, every Job complete: each pod passed admission
    (PodSecurity `restricted` in mlflow) and was scheduled."""
    behind = wait_converged(NAMESPACES)
    assert not behind, "\n".join(behind + [events(ns) for ns in NAMESPACES])


def test_knative_accepts_the_predictor(applied):
    """KServe turns the InferenceService into a Knative Service, which Knative's webhook must admit
    (its field masks under the default feature flags) before a revision exists."""
    wait_converged(("churnops-serving",), timeout=30)
    isvc = kubectl_json("-n", "churnops-serving", "get", "inferenceservice", ISVC)
    services = kubectl_json("-n", "churnops-serving", "get", "services.serving.knative.dev")["items"]
    conditions = isvc.get("status", {}).get("conditions", [])
    assert [s["metadata"]["name"] for s in services] == [f"{ISVC}-predictor"], conditions
    predictor_pods = [p for p in pods("churnops-serving") if p["metadata"]["labels"].get(
        "serving.kserve.io/inferenceservice") == ISVC]
    assert predictor_pods and all(p["status"].get("phase") == "Running" for p in predictor_pods), events(
        "churnops-serving")


def test_every_churnops_pod_has_the_platform_pull_secret(applied):
    """The pull Secrets that config/platform/<env>.yaml gives pipeline steps are on every pod that runs
    a ghcr.io/churnops image: the sync Job, MLflow and its migration, the predictor."""
    env, _ = applied
    wanted = pull_secrets(env)
    wait_converged(NAMESPACES, timeout=30)
    missing = []
    for namespace in NAMESPACES:
        for pod in pods(namespace):
            images = [c["image"] for c in pod["spec"].get("containers", []) + pod["spec"].get("initContainers", [])]
            have = {s["name"] for s in pod["spec"].get("imagePullSecrets", [])}
            if any(i.startswith("ghcr.io/churnops/") for i in images) and not wanted <= have:
                missing.append(f"{namespace}/{pod['metadata']['name']}: {sorted(have)}")
    assert not missing, f"pods without {sorted(wanted)}: {missing}"


def test_the_predictor_stops_where_this_control_plane_does(applied):
    """What the fake platform cannot get past: the Revision's pods run (ContainerHealthy), but its
    PodAutoscaler is reconciled by Knative's autoscaler, and its Route needs a networking layer
    (net-istio, Kourier), neither of which runs here; so the predictor reports RevisionMissing, and the
    InferenceService's Ready says that or, once KServe's ingress reconciler has looked, the consequence
    (kserve v0.20.0 reconcilers/ingress/ingress_reconciler.go createIngress: "Predictor ingress not
    created" while PredictorReady is Unknown). Asserted exactly, so that any other reason (a rejected
    revision, a failed pod) fails this test."""
    wait_converged(("churnops-serving",), timeout=30)
    isvc = kubectl_json("-n", "churnops-serving", "get", "inferenceservice", ISVC)
    ready = {c["type"]: c for c in isvc.get("status", {}).get("conditions", [])}
    assert ready["PredictorReady"]["status"] == "Unknown" and ready["PredictorReady"].get(
        "reason") == "RevisionMissing", isvc.get("status")
    assert ready["Ready"]["status"] == "Unknown" and ready["Ready"].get("reason") in (
        "RevisionMissing", "Predictor ingress not created"), isvc.get("status")
    (revision,) = kubectl_json("-n", "churnops-serving", "get", "revisions.serving.knative.dev")["items"]
    conditions = {c["type"]: c for c in revision["status"]["conditions"]}
    assert conditions["ContainerHealthy"]["status"] == "True", revision["status"]
    assert conditions["Ready"].get("reason") == "Deploying", revision["status"]
