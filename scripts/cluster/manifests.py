"""The upstream objects the control plane installs, read from the pinned modules (nothing copied here).

- Argo CD: manifests/core-install.yaml of github.com/argoproj/argo-cd/v3 (application-controller,
  repo-server, redis: "Argo CD core"), and k8s/argocd/argocd-cm.application-health.yaml of this
  repository (what docs/kubernetes.md tells every user to add).
- Knative Serving: config/core/**.yaml of knative.dev/serving.
- KServe: `kustomize build config/overlays/standalone/kserve` of github.com/kserve/kserve (its own
  standalone install: namespace, inferenceservice-config, CRDs, RBAC, webhooks).
- kwok: kustomize/stage/{node/fast,pod/general} of sigs.k8s.io/kwok, with our delays.
Their Deployments/StatefulSets (and Argo CD's redis secret Job, cert-manager's Issuer/Certificate)
are left out: their binaries run on loopback instead (plane.py), with the env those Deployments set.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from scripts.cluster import pins
from scripts.cluster.pins import ROOT

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
CERT_MANAGER = {"Certificate", "Issuer", "ClusterIssuer"}
WEBHOOK_KINDS = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
ARGOCD_HEALTH = ROOT / "k8s" / "argocd" / "argocd-cm.application-health.yaml"
# Knative resolves image tags to digests by asking the registry; this machine reaches none, so the
# harness skips it for the registries the bundle uses (config-deployment registries-skipping-tag-resolving).
SKIP_TAG_RESOLVING = "ghcr.io,docker.io,index.docker.io,kind.local,ko.local,dev.local"
# No ingress controller runs here, so no Ingress ever gets a load balancer address, which is what
# Argo CD's Ingress health waits for; the local Argo CD is told so instead (and says it).
NO_INGRESS_CONTROLLER = {"resource.customizations.health.networking.k8s.io_Ingress": (
    'hs = {}\nhs.status = "Healthy"\nhs.message = "no ingress controller on the local control plane: '
    'accepted by the apiserver, no address"\nreturn hs\n')}


def module_dir(component: str) -> Path:
    spec = pins.components()[component]
    return pins.module_dir(spec.module, spec.version)


def crd_module_objects() -> list[dict]:
    """The CRDs of versions.toml [crds.*] (e.g. prometheus-operator's ServiceMonitor)."""
    return [obj for spec in pins.crd_modules().values() for name in spec["files"]
            for obj in load_all((pins.module_dir(spec["module"], spec["version"]) / name).read_text())]


def load_all(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and doc.get("kind")]


def kept(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] not in WORKLOADS | CERT_MANAGER]


def is_webhook_configuration(obj: dict) -> bool:
    return obj["kind"] in WEBHOOK_KINDS


def is_kserve(obj: dict) -> bool:
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "kserve" or "kserve" in obj[
        "metadata"]["name"]


def with_ca_bundle(obj: dict, ca: str) -> dict:
    """What cert-manager's CA injector does for KServe's webhook configurations (no cert-manager here)."""
    for hook in obj.get("webhooks", []):
        hook["clientConfig"]["caBundle"] = ca
    obj["metadata"].get("annotations", {}).pop("cert-manager.io/inject-ca-from", None)
    return obj


def argocd_objects(namespace: str) -> list[dict]:
    objects = kept(load_all((module_dir("argocd") / "manifests" / "core-install.yaml").read_text()))
    for obj in objects:
        if obj["kind"] not in {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}:
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "argocd-cm":
            health = yaml.safe_load(ARGOCD_HEALTH.read_text())
            obj["data"] = {**(obj.get("data") or {}), **health["data"], **NO_INGRESS_CONTROLLER}
    namespace_obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    return [namespace_obj, *crds, *[o for o in objects if o["kind"] != "CustomResourceDefinition"]]


def knative_all() -> list[dict]:
    core = module_dir("knative-serving") / "config" / "core"
    return [obj for path in sorted(core.rglob("*.yaml")) for obj in load_all(path.read_text())]


def required_version(component: str, module: str) -> str:
    """The version of `module` that the component's own go.mod requires (what its build used)."""
    spec = pins.components()[component]
    gomod = (pins.cache_root() / "go" / "mod" / "cache" / "download" / spec.module / "@v" / f"{spec.version}.mod")
    for line in gomod.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (module, "require") and module in parts:
            return parts[parts.index(module) + 1]
    raise SystemExit(f"churnops cluster: {spec.module}@{spec.version} does not require {module}")


def knative_linked() -> list[dict]:
    """What Knative Serving's config/core links in from knative.dev/networking (config-network, the
    Ingress, Certificate, ServerlessService, ClusterDomainClaim CRDs) and knative.dev/caching (the
    Image CRD): symbolic links in its repository, which a Go module zip leaves out. Read from those
    modules at the versions knative.dev/serving's go.mod requires (its release YAML bundles them too)."""
    objects = []
    for module in ("knative.dev/networking", "knative.dev/caching"):
        folder = pins.module_dir(module, required_version("knative-serving", module)) / "config"
        objects += [obj for path in sorted(folder.glob("*.yaml")) for obj in load_all(path.read_text())]
    return objects


def knative_objects() -> list[dict]:
    objects = knative_linked() + kept(knative_all())
    for obj in objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "config-deployment":
            obj["data"]["registries-skipping-tag-resolving"] = SKIP_TAG_RESOLVING
            obj["data"]["queue-sidecar-image"] = f"churnops.local/knative-queue:{pins.components()['knative-serving'].version}"
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "config-observability":
            obj.setdefault("data", {})["metrics-protocol"] = "none"
            obj["data"]["request-metrics-protocol"] = "none"
            obj["data"]["tracing-protocol"] = "none"
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    return namespaces + crds + [o for o in objects if o["kind"] not in {"CustomResourceDefinition", "Namespace"}]


def knative_env(deployment: str) -> dict[str, str]:
    """The env upstream's Deployment gives the container (fieldRefs resolved as the kubelet would)."""
    for obj in knative_all():
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == deployment:
            container = obj["spec"]["template"]["spec"]["containers"][0]
            env = {}
            for item in container.get("env", []):
                if "value" in item:
                    env[item["name"]] = str(item["value"])
                elif item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                    env[item["name"]] = obj["metadata"]["namespace"]
                elif item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                    env[item["name"]] = f"{deployment}-local"
            return env
    raise SystemExit(f"churnops cluster: no Deployment {deployment} in knative.dev/serving config/core")


def kserve_objects() -> list[dict]:
    kustomize = pins.binary("kustomize")
    install = module_dir("kserve") / "config" / "overlays" / "standalone" / "kserve"
    built = subprocess.run([str(kustomize), "build", str(install)], capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"churnops cluster: kustomize build of {install} failed: {built.stderr}")
    objects = kept(load_all(built.stdout))
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    # a namespace an object names but the install does not create
    named = {o["metadata"].get("namespace") for o in objects} - {None}
    namespaces = [o for o in objects if o["kind"] == "Namespace"] + [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in sorted(named)
        if n not in {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}]
    return namespaces + crds + [o for o in objects if o["kind"] not in {"CustomResourceDefinition", "Namespace"}]


def kwok_volume_objects() -> list[dict]:
    """What kwok's volume/fast stages need in the cluster: its StorageClass `kwok-volume` (made the
    default here, as a cloud cluster has one, so the StatefulSets' PVCs get it)."""
    folder = module_dir("kwok") / "kustomize" / "stage" / "volume" / "fast"
    objects = [o for o in load_all((folder / "storage-class.yaml").read_text())]
    for obj in objects:
        obj["metadata"].setdefault("annotations", {})["storageclass.kubernetes.io/is-default-class"] = "true"
    return objects


def kwok_stages(delay_ms: int) -> str:
    """kwok's node/fast, pod/general and volume/fast stages (PVCs get a PV and bind), with every pod
    stage delayed delay_ms (+ up to delay_ms jitter)."""
    stage = module_dir("kwok") / "kustomize" / "stage"
    docs = []
    for folder in (stage / "node" / "fast", stage / "pod" / "general", stage / "volume" / "fast"):
        listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
        for name in listed:
            if not (folder / name).is_file():
                continue  # a sub-kustomization (volume/fast's ../rbac: kwok runs as the admin here)
            for doc in load_all((folder / name).read_text()):
                if doc["kind"] != "Stage":
                    continue
                delay = doc["spec"].get("delay")
                if delay:
                    delay["durationMilliseconds"] = delay_ms
                    if "jitterDurationMilliseconds" in delay:
                        delay["jitterDurationMilliseconds"] = delay_ms
                docs.append(doc)
    return yaml.safe_dump_all(docs, sort_keys=False)


def node(name: str) -> dict:
    """A kwok node (kwok's own example: the annotation it manages, room for the bundle's pods)."""
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "200Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "type": "kwok"}},
        "spec": {},
        "status": {"allocatable": capacity, "capacity": capacity},
    }
