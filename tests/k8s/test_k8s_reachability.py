"""Reachability from the rendered NetworkPolicies, answered by network-config-analyzer (PyPI, 2.1.0).

The analyzer (its own venv .tools/nca, pinned in requirements/nca.txt, `make tools`) reads the
rendered overlay plus the schedules sync and the endpoints the bundle does not render: a KFP step
pod (the labels config/platform/<env>.yaml gives steps, plus `pipelines.kubeflow.org/v2_component:
"true"`, the label value the KFP backend's Go source uses for v2 pods; the file was read through a
code search that did not name its path), Prometheus in `monitoring`, the ingress controller in
`ingress-nginx`, the KFP API pod, and Namespaces with the `kubernetes.io/metadata.name` label the
API server sets. It prints one line per allowed (source, destination, connection).

Workaround, declared: network-config-analyzer 2.1.0 evaluates a `matchExpressions: Exists`
requirement of a podSelector only in the policy's own namespace even when the peer also has a
namespaceSelector (nca/Parsers/K8sPolicyYamlParser.py `parse_label_selector_requirement` passes
`self.namespace` to `PeerContainer.get_peers_with_key`), unlike the Kubernetes NetworkPolicy spec,
where the pair selects pods in the selected namespaces. The copy handed to it rewrites that one
requirement (key pipelines.kubeflow.org/v2_component, Exists) to `In ["true"]`, which selects the
same step pods.

Fails on main (5803999): no path Prometheus -> MLflow, none MLflow -> 169.254.169.254:80 (prod),
none step -> MinIO (dev).
"""

from __future__ import annotations

import copy
import ipaddress
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from k8s_helpers import ROOT, build
from support.environments import ENVIRONMENTS

NCA = ROOT / ".tools" / "nca" / "bin" / "nca"
KFP_KEY = "pipelines.kubeflow.org/v2_component"
LINE = re.compile(r"^(\S+) => (\S+) : (.+)$")


def pod(namespace: str, name: str, labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "x:1"}]}}


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}


def without_exists_bug(objects: list[dict]) -> list[dict]:
    objects = copy.deepcopy(objects)
    for obj in objects:
        if obj["kind"] != "NetworkPolicy":
            continue
        for rule in obj["spec"].get("ingress", []) + obj["spec"].get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                for req in (peer.get("podSelector") or {}).get("matchExpressions", []):
                    if req["key"] == KFP_KEY and req["operator"] == "Exists":
                        req.update(operator="In", values=["true"])
    return objects


def cluster(env: str, objects: list[dict]) -> list[dict]:
    platform = yaml.safe_load((ROOT / "config" / "platform" / f"{env}.yaml").read_text())
    step_labels = {**platform["defaults"]["pod_labels"], KFP_KEY: "true"}
    named = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    extra = [namespace(n) for n in ("mlflow", "kubeflow", "monitoring", "ingress-nginx", "kube-system")]
    objects = [o for o in objects if not (o["kind"] == "Namespace" and o["metadata"]["name"] in named)]
    return objects + extra + [
        pod("kubeflow", "step", step_labels),
        pod("kubeflow", "ml-pipeline", {"app": "ml-pipeline"}),
        pod("monitoring", "prometheus", {"app.kubernetes.io/name": "prometheus"}),
        pod("ingress-nginx", "controller", {"app.kubernetes.io/name": "ingress-nginx"}),
    ]


def connectivity(objects: list[dict], tmp_path: Path) -> dict[tuple[str, str], str]:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(without_exists_bug(objects)))
    result = subprocess.run([str(NCA), "--connectivity", str(path), "--resource_list", str(path),
                             "--output_format", "txt_no_fw_rules"], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    pairs = {}
    for line in result.stdout.splitlines():
        match = LINE.match(line.strip())
        if match:
            pairs[(match.group(1), match.group(2))] = match.group(3)
    assert pairs, f"network-config-analyzer printed no connectivity:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    return pairs


def allows(conn: str, port: int) -> bool:
    if conn == "All connections":
        return True
    ports = re.search(r"dst_ports:([0-9,\-]+)", conn)
    if "TCP" not in conn or not ports:
        return False
    for part in ports.group(1).split(","):
        low, _, high = part.partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


def reaches(pairs, src: str, dst: str, port: int) -> bool:
    """dst is `ns/name[Kind]` or an IP address (matched against the analyzer's ranges)."""
    for (s, d), conn in pairs.items():
        if s != src:
            continue
        if d == dst or (re.fullmatch(r"[0-9.]+", dst) and "-" in d and in_range(dst, d)):
            if allows(conn, port):
                return True
    return False


def in_range(ip: str, span: str) -> bool:
    low, _, high = span.partition("-")
    try:
        return ipaddress.ip_address(low) <= ipaddress.ip_address(ip) <= ipaddress.ip_address(high)
    except ValueError:
        return False


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    if not NCA.exists():
        pytest.fail(f"{NCA} is missing: run `make tools`")
    out = {}
    for env in ENVIRONMENTS:
        objects = build(f"k8s/overlays/{env}") + build(f"k8s/overlays/{env}/schedules-sync")
        out[env] = (objects, connectivity(cluster(env, objects), tmp_path_factory.mktemp(env)))
    return out


STEP, MLFLOW = "kubeflow/step[Pod]", "mlflow/mlflow[Deployment]"
PROMETHEUS, INGRESS = "monitoring/prometheus[Pod]", "ingress-nginx/controller[Pod]"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_paths_the_product_needs_are_open(nets, env):
    _, pairs = nets[env]
    assert reaches(pairs, STEP, MLFLOW, 5000), "step pods -> MLflow"
    assert reaches(pairs, INGRESS, MLFLOW, 5000), "ingress -> MLflow"
    assert reaches(pairs, "kubeflow/churnops-schedules-sync[Job]", "kubeflow/ml-pipeline[Pod]", 8888), "sync -> KFP API"
    if env == "dev":
        assert reaches(pairs, STEP, "mlflow/minio[StatefulSet]", 9000), "step pods -> their dataset store (MinIO)"
        assert reaches(pairs, MLFLOW, "mlflow/postgres[StatefulSet]", 5432), "MLflow -> PostgreSQL"
        assert reaches(pairs, MLFLOW, "mlflow/minio[StatefulSet]", 9000), "MLflow -> artifact store"
    else:
        assert reaches(pairs, PROMETHEUS, MLFLOW, 5000), "Prometheus -> MLflow /metrics"
        assert reaches(pairs, MLFLOW, "169.254.169.254", 80), "MLflow -> GKE metadata server"
        assert reaches(pairs, MLFLOW, "10.1.2.3", 5432), "MLflow -> managed PostgreSQL"
        assert reaches(pairs, MLFLOW, "142.250.1.1", 443), "MLflow -> GCS"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_nothing_else_reaches_the_stores(nets, env):
    _, pairs = nets[env]
    assert not reaches(pairs, STEP, MLFLOW, 22), "step pods reach MLflow on another port"
    if env == "dev":
        for src in (STEP, PROMETHEUS, INGRESS, "kubeflow/churnops-schedules-sync[Job]"):
            assert not reaches(pairs, src, "mlflow/postgres[StatefulSet]", 5432), f"{src} reaches PostgreSQL"
        assert not reaches(pairs, PROMETHEUS, "mlflow/minio[StatefulSet]", 9000)
    assert not reaches(pairs, MLFLOW, "8.8.8.8", 80), "MLflow reaches the internet on 80"


def test_a_removed_policy_is_noticed(nets, tmp_path):
    objects, _ = nets["prod"]
    trimmed = [o for o in objects if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "allow-prometheus-scrape")]
    pairs = connectivity(cluster("prod", trimmed), tmp_path)
    assert not reaches(pairs, PROMETHEUS, MLFLOW, 5000)


# The KFP API port: kubeflow/pipelines manifests/kustomize/base/pipeline/ml-pipeline-apiserver-service.yaml,
# Service ml-pipeline (selector app: ml-pipeline), port `http` 8888 -> targetPort 8888 (`grpc` is 8887).
# Read at tag 2.17.0 (4a3592cb) and at the fetched snapshot's head (7b70c7b, 2026-08-21): identical,
# the file last changed in 7875b68 (#6572), so the pinned 2.17.2 serves the same port.
KFP_API = ("kubeflow/ml-pipeline[Pod]", 8888)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_retrain_trigger_reaches_the_kfp_api(nets, env):
    # trigger_retrain (a step pod, as churnops-pipeline-runner) calls ml-pipeline:8888 (defaults.CLUSTER_KFP_HOST).
    objects, pairs = nets[env]
    assert reaches(pairs, STEP, *KFP_API), "step pods -> KFP API"
    # Open because nothing of ours isolates pods in kubeflow: our policies select mlflow (and
    # churnops-serving) pods only. An egress "allow" for the step pods would isolate them, cutting
    # what KFP's launcher and the steps need and we do not list (object stores, GCS, the API server).
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "NetworkPolicy"
            and o["metadata"].get("namespace") == "kubeflow"] == []


def test_egress_isolation_of_the_kubeflow_namespace_would_be_noticed(nets, tmp_path):
    # The check above can fail: a default-deny egress in kubeflow (the kind of policy that would
    # cut the trigger off) leaves no path step -> ml-pipeline:8888, while MLflow's policies are unchanged.
    objects, _ = nets["prod"]
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny-egress", "namespace": "kubeflow"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}
    pairs = connectivity(cluster("prod", objects + [deny]), tmp_path)
    assert not reaches(pairs, STEP, *KFP_API)
    assert reaches(pairs, INGRESS, MLFLOW, 5000)
