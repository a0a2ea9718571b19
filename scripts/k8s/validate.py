"""Offline validation of the Kubernetes bundle with the real kubectl and helm (`make validate`).

Every check that can run without a cluster:

  layout      every kustomization.yaml under k8s/ has apiVersion/kind, no deprecated `bases:`;
              k8s/components/* are kustomize Components, everything else a Kustomization
  build       `kubectl kustomize` every kustomization under k8s/overlays
  helm        `helm lint` + `helm template` of charts/mlflow for every documented values file,
              and of the Argo CD chart k8s/argocd for every k8s/argocd/values/<env>.yaml (the
              child Applications and the root one, `--set root=true`)
  drift       the MLflow Components k8s/components/mlflow-*/ match the chart (render_mlflow_chart.py)
  readme      charts/mlflow/README.md matches the `# --` comments of its values.yaml (chart_readme.py)
  schema      every object against the Kubernetes 1.35 OpenAPI schema (kubernetes-validate,
              strict) and every custom resource against its vendored CRD schema
  references  Secrets/ConfigMaps/ServiceAccounts/PVCs/Namespaces/Roles that objects reference
              exist in the render or in k8s/external-resources.yaml; volume mounts name volumes
  services    every Service selects pods and targets a port they declare
  images      no untagged or `latest` image
  resources   every container has cpu and memory requests and limits
  argocd      every Application has the finalizer, automated prune, a pinned targetRevision and a
              destination namespace
  ordering    resources in Argo CD's sync order (phase, wave, kind): no workload or hook needs a
              Secret/ConfigMap/PVC/ServiceAccount of a later phase or wave, and no hook Job reads a
              ConfigMap/Secret of the render whose content can change without the Job's spec changing
  version     this repository's Applications track `v` + churnops.__version__ and every
              ghcr.io/churnops/churnops image is tagged with it (churnops/__init__.py, read as text)
  data        each environment's data contract: the dataset URI schemes of schedules/<env>.yaml match
              the credentials config/platform/<env>.yaml gives steps (s3: AWS keys in a Secret that
              is not the MinIO root user, and a bucket the bucket Job creates; gs: a Workload
              Identity annotation on the runs' service account)
  checkov     security scan of everything rendered (k8s/checkov-skips.yaml is the skip list)

Each rule that the local control plane (scripts/cluster, tests/cluster, marker `cluster`) now
checks with the upstream system itself is listed here; where the two
disagree, the real one wins and the rule here is fixed.
  [cluster: schema]     the real kube-apiserver (strict field validation) with the upstream CRDs of
                        Argo CD, KServe, Knative, prometheus-operator and Istio at the pins, and KServe's
                        and Knative's own admission webhooks (tests/cluster/test_apply_k.py)
  [cluster: argocd]     Argo CD v3.6.2 syncing every environment (tests/cluster/test_gitops.py):
                        destinations, the AppProject, waves, hooks, the Application health check
  [cluster: ordering]   the same syncs: the order is Argo CD's own, health waits included

Each check is a function from objects to a list of error strings; tests/k8s/ feeds every one a
seeded mistake. `main()` runs them all and exits 1 if any error was found.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
KUBECTL = TOOLS / "bin" / "kubectl"
HELM = TOOLS / "bin" / "helm"
CHECKOV = TOOLS / "checkov" / "bin" / "checkov"
KUBERNETES_VERSION = "1.35.0"
CHART = ROOT / "charts" / "mlflow"
ARGOCD_CHART = ROOT / "k8s" / "argocd"
PACKAGE_INIT = ROOT / "churnops" / "__init__.py"
COMPONENT_IMAGE = "ghcr.io/churnops/churnops"
CRD_SCHEMAS = Path(__file__).resolve().parent / "crd-schemas"
EXTERNAL = ROOT / "k8s" / "external-resources.yaml"
CHECKOV_SKIPS = ROOT / "k8s" / "checkov-skips.yaml"

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
PINNED_REVISION = re.compile(r"^(v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?|[0-9a-f]{40})$")
ARGOCD_FINALIZER = "resources-finalizer.argocd.argoproj.io"


@dataclass
class Render:
    """The objects of one kustomization, Argo CD file or chart values combination."""

    name: str
    objects: list[dict]
    check_references: bool = True
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- rendering


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def load_documents(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def kustomize_targets(root: Path = ROOT) -> list[Path]:
    """Every kustomization under k8s/overlays (bases and components are built through them)."""
    return sorted(p.parent for p in (root / "k8s" / "overlays").rglob("kustomization.yaml"))


def argocd_values_files(root: Path = ROOT) -> list[Path]:
    """k8s/argocd/values/<env>.yaml: one per environment."""
    return sorted((root / "k8s" / "argocd" / "values").glob("*.yaml"))


def chart_values_files(root: Path = ROOT) -> list[Path | None]:
    """None is the chart's defaults; then ci/*.yaml and the bundle's own variants."""
    return [None, *sorted((root / "charts" / "mlflow" / "ci").glob("*.yaml")),
            *sorted((root / "k8s" / "components").glob("mlflow-*/values.yaml"))]


def build_kustomization(path: Path, kubectl: Path = KUBECTL) -> tuple[list[dict], str]:
    """(objects, error): the error is kubectl's message when the build fails."""
    result = run([str(kubectl), "kustomize", str(path)])
    if result.returncode != 0:
        return [], result.stderr.strip()
    return load_documents(result.stdout), ""


def helm_lint_and_template(values: Path | None, chart: Path = CHART, helm: Path = HELM) -> tuple[list[dict], list[str]]:
    extra = ["--values", str(values)] if values else []
    errors = []
    lint = run([str(helm), "lint", "--strict", str(chart), *extra])
    if lint.returncode != 0:
        errors.append(f"helm lint failed:\n{lint.stdout}{lint.stderr}")
    template = run([str(helm), "template", "mlflow", str(chart), "--namespace", "mlflow", *extra])
    if template.returncode != 0:
        errors.append(f"helm template failed: {template.stderr.strip()}")
        return [], errors
    return load_documents(template.stdout), errors


def helm_template_argocd(values: Path, *extra: str, chart: Path = ARGOCD_CHART, helm: Path = HELM) -> tuple[list[dict], str]:
    """(objects, error) of the Argo CD chart for one environment's values file."""
    result = run([str(helm), "template", "churnops", str(chart), "--namespace", "argocd",
                  "--values", str(values), *extra])
    if result.returncode != 0:
        return [], result.stderr.strip()
    return load_documents(result.stdout), ""


def render_argocd(values: Path, chart: Path = ARGOCD_CHART, helm: Path = HELM) -> tuple[list[dict], list[str]]:
    """Lint the Argo CD chart with one environment's values; return its root Application and the
    child Applications Argo CD creates from it, and the errors."""
    errors = []
    lint = run([str(helm), "lint", "--strict", str(chart), "--values", str(values)])
    if lint.returncode != 0:
        errors.append(f"helm lint failed:\n{lint.stdout}{lint.stderr}")
    objects = []
    for extra in ((), ("--set", "root=true")):
        rendered, error = helm_template_argocd(values, *extra, chart=chart, helm=helm)
        if error:
            errors.append(f"helm template {' '.join(extra) or '(children)'} failed: {error}")
        objects += rendered
    return objects, errors


def package_version(init: Path = PACKAGE_INIT) -> str:
    """churnops.__version__, read as text (importing the package is not needed to check a manifest)."""
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', init.read_text(), re.M)
    if match is None:
        raise ValueError(f"{init}: no __version__ = \"...\" line")
    return match.group(1)


def argocd_repo_url(chart: Path = ARGOCD_CHART) -> str:
    """This repository's URL, as the Argo CD chart's values name it."""
    return yaml.safe_load((chart / "values.yaml").read_text())["repoURL"]


def relative(path: Path, root: Path = ROOT) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


# ---------------------------------------------------------------- helpers


def key(kind: str, namespace: str | None, name: str) -> tuple[str, str, str]:
    return (kind, namespace or "", name)


def object_key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata", {})
    return key(obj["kind"], meta.get("namespace"), meta.get("name", ""))


def pod_template(obj: dict) -> tuple[dict, dict] | None:
    """(pod metadata, pod spec) of a workload, or None."""
    kind = obj.get("kind")
    if kind == "InferenceService":  # KServe v1beta1: the predictor is a pod spec (containers, serviceAccountName)
        return obj.get("metadata", {}), obj.get("spec", {}).get("predictor", {})
    if kind not in WORKLOAD_KINDS:
        return None
    if kind == "Pod":
        return obj.get("metadata", {}), obj.get("spec", {})
    spec = obj.get("spec", {})
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template", {})
    return template.get("metadata", {}), template.get("spec", {})


def containers(pod_spec: dict) -> Iterator[dict]:
    yield from pod_spec.get("initContainers", []) or []
    yield from pod_spec.get("containers", []) or []


def where(obj: dict) -> str:
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


# ---------------------------------------------------------------- checks


KUSTOMIZE_API = {"Kustomization": "kustomize.config.k8s.io/v1beta1", "Component": "kustomize.config.k8s.io/v1alpha1"}


def check_layout(root: Path = ROOT) -> list[str]:
    """Optional pieces are Components under k8s/components/ that overlays opt into; every other
    kustomization is a Kustomization; each one says its apiVersion and kind."""
    errors = []
    components = root / "k8s" / "components"
    for path in sorted((root / "k8s").rglob("kustomization.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        wanted = "Component" if path.parent.parent == components else "Kustomization"
        if doc.get("kind") != wanted or doc.get("apiVersion") != KUSTOMIZE_API[wanted]:
            errors.append(f"{relative(path, root)}: apiVersion/kind {doc.get('apiVersion')}/{doc.get('kind')}, "
                          f"wanted {KUSTOMIZE_API[wanted]}/{wanted}"
                          + (" (an optional piece under k8s/components/ is a Component that overlays list under "
                             "`components:`)" if wanted == "Component" else ""))
        if "bases" in doc:
            errors.append(f"{relative(path, root)}: `bases:` is deprecated: list them under `resources:`")
    return errors



def load_crd_schemas(directory: Path = CRD_SCHEMAS) -> dict[str, dict]:
    """apiVersion/kind -> JSON schema, made strict like kubectl's field validation."""
    schemas = {}
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        definitions = {name: strict(schema) for name, schema in doc.get("definitions", {}).items()}
        for version, schema in doc["versions"].items():
            full = strict(schema)
            full["definitions"] = definitions
            schemas[f"{doc['group']}/{version}/{doc['kind']}"] = full
    return schemas


def strict(schema: dict) -> dict:
    """Copy of an openAPIV3Schema where objects with declared properties reject unknown fields."""
    if not isinstance(schema, dict):
        return schema
    out = {k: (strict(v) if isinstance(v, dict) else [strict(i) for i in v] if isinstance(v, list) else v)
           for k, v in schema.items() if k != "properties"}
    if "properties" in schema:
        out["properties"] = {name: strict(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


def check_schema(objects: Iterable[dict], crd_schemas: dict[str, dict], version: str = KUBERNETES_VERSION) -> list[str]:
    errors = []
    for obj in objects:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        crd = crd_schemas.get(f"{api_version}/{kind}")
        if crd is not None:
            validator = jsonschema.Draft7Validator(crd)
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
                path = ".".join(str(p) for p in error.path)
                errors.append(f"{where(obj)}: {path}: {error.message} (CRD schema {api_version} {kind})")
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{where(obj)}: no schema for {api_version} {kind}: vendor its CRD schema "
                          f"in scripts/k8s/crd-schemas/")
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            errors.append(f"{where(obj)}: {path}: {error.message} (Kubernetes {version})")
    return errors


def references_of(obj: dict) -> Iterator[tuple[str, str, str | None, str]]:
    """(kind, name, key or None, what) for every object a workload or binding points at."""
    ns_pod = pod_template(obj)
    if ns_pod is not None:
        _, spec = ns_pod
        sa = spec.get("serviceAccountName")
        if sa and sa != "default":
            yield "ServiceAccount", sa, None, "serviceAccountName"
        for secret in spec.get("imagePullSecrets", []) or []:
            yield "Secret", secret["name"], None, "imagePullSecrets"
        for volume in spec.get("volumes", []) or []:
            if "secret" in volume and not volume["secret"].get("optional"):
                yield "Secret", volume["secret"]["secretName"], None, f"volume {volume['name']}"
            if "configMap" in volume and not volume["configMap"].get("optional"):
                yield "ConfigMap", volume["configMap"]["name"], None, f"volume {volume['name']}"
            if "persistentVolumeClaim" in volume:
                yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"], None, f"volume {volume['name']}"
            for source in (volume.get("projected") or {}).get("sources", []):
                if "secret" in source and not source["secret"].get("optional"):
                    yield "Secret", source["secret"]["name"], None, f"volume {volume['name']}"
                if "configMap" in source and not source["configMap"].get("optional"):
                    yield "ConfigMap", source["configMap"]["name"], None, f"volume {volume['name']}"
        for container in containers(spec):
            for env in container.get("env", []) or []:
                value_from = env.get("valueFrom") or {}
                for ref_kind, ref_field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    ref = value_from.get(ref_field)
                    if ref and not ref.get("optional"):
                        yield ref_kind, ref["name"], ref["key"], f"container {container['name']} env {env['name']}"
            for env_from in container.get("envFrom", []) or []:
                for ref_kind, ref_field in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    ref = env_from.get(ref_field)
                    if ref and not ref.get("optional"):
                        yield ref_kind, ref["name"], None, f"container {container['name']} envFrom"
    if obj.get("kind") == "RoleBinding":
        role_ref = obj.get("roleRef", {})
        if role_ref.get("kind") == "Role":
            yield "Role", role_ref["name"], None, "roleRef"
        for subject in obj.get("subjects", []) or []:
            namespace = obj["metadata"].get("namespace")
            if subject.get("kind") == "ServiceAccount" and subject.get("namespace", namespace) == namespace:
                yield "ServiceAccount", subject["name"], None, "subjects"
    if obj.get("kind") == "HorizontalPodAutoscaler":
        target = obj.get("spec", {}).get("scaleTargetRef", {})
        yield target.get("kind", ""), target.get("name", ""), None, "scaleTargetRef"


def check_references(objects: list[dict], external: list[dict]) -> list[str]:
    errors = []
    present = {object_key(obj): obj for obj in objects}
    declared = {key(e["kind"], e.get("namespace"), e["name"]) for e in external}
    namespaces = {k[2] for k in list(present) + list(declared) if k[0] == "Namespace"}
    for obj in objects:
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace")
        if obj["kind"] != "Namespace" and namespace and namespace not in namespaces:
            errors.append(f"{where(obj)}: namespace {namespace} is neither rendered nor in {relative(EXTERNAL)}")
        for kind, name, data_key, what in references_of(obj):
            wanted = key(kind, namespace, name)
            if wanted in declared:
                continue
            target = present.get(wanted)
            if target is None:
                errors.append(f"{where(obj)}: {what} references {kind} {namespace}/{name}, "
                              f"which is neither rendered nor in {relative(EXTERNAL)}")
            elif data_key is not None and kind in ("Secret", "ConfigMap"):
                keys = set(target.get("data") or {}) | set(target.get("stringData") or {})
                if data_key not in keys:
                    errors.append(f"{where(obj)}: {what} reads key {data_key} of {kind} {namespace}/{name}, "
                                  f"which has only {sorted(keys)}")
        pod = pod_template(obj)
        if pod is not None:
            _, spec = pod
            volumes = {v["name"] for v in spec.get("volumes", []) or []}
            volumes |= {t["metadata"]["name"] for t in obj.get("spec", {}).get("volumeClaimTemplates", []) or []}
            for container in containers(spec):
                for mount in container.get("volumeMounts", []) or []:
                    if mount["name"] not in volumes:
                        errors.append(f"{where(obj)}: container {container['name']} mounts undeclared volume {mount['name']}")
    return errors


def check_services(objects: list[dict]) -> list[str]:
    errors = []
    pods = []
    for obj in objects:
        pod = pod_template(obj)
        if pod is not None:
            pods.append((obj.get("metadata", {}).get("namespace"), pod[0].get("labels", {}) or {}, pod[1]))
    for svc in (o for o in objects if o.get("kind") == "Service"):
        spec = svc.get("spec", {})
        selector = spec.get("selector")
        if spec.get("type") == "ExternalName" or not selector:
            continue
        namespace = svc["metadata"].get("namespace")
        matched = [s for ns, labels, s in pods
                   if ns == namespace and all(labels.get(k) == v for k, v in selector.items())]
        if not matched:
            errors.append(f"{where(svc)}: selector {selector} matches no pod template in the render")
            continue
        declared = [p for s in matched for c in s.get("containers", []) for p in c.get("ports", []) or []]
        names = {p.get("name") for p in declared}
        numbers = {p.get("containerPort") for p in declared}
        for port in spec.get("ports", []) or []:
            target = port.get("targetPort", port.get("port"))
            if (isinstance(target, str) and target not in names) or (isinstance(target, int) and target not in numbers):
                errors.append(f"{where(svc)}: port {port.get('name', port.get('port'))} targets {target!r}, "
                              f"which no selected container declares (names {sorted(n for n in names if n)}, "
                              f"numbers {sorted(n for n in numbers if n)})")
    return errors


def image_problem(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the latest tag"
    return None


def pod_containers(objects: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(owning object, container) for every container of every pod template in the render."""
    for obj in objects:
        pod = pod_template(obj)
        if pod is not None:
            for container in containers(pod[1]):
                yield obj, container


def check_images(objects: list[dict]) -> list[str]:
    errors = []
    for obj, container in pod_containers(objects):
        problem = image_problem(container.get("image", ""))
        if problem:
            errors.append(
                f"{where(obj)}: container {container['name']} image {container.get('image')!r} {problem}: pin a version")
    return errors


def check_resources(objects: list[dict]) -> list[str]:
    errors = []
    for obj, container in pod_containers(objects):
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(section) or {})
            if missing:
                errors.append(f"{where(obj)}: container {container['name']} has no {section} for {', '.join(sorted(missing))}")
    return errors


def check_argocd(objects: list[dict]) -> list[str]:
    errors = []
    for app in (o for o in objects if o.get("kind") == "Application" and o.get("apiVersion", "").startswith("argoproj.io/")):
        spec = app.get("spec", {})
        if ARGOCD_FINALIZER not in (app["metadata"].get("finalizers") or []):
            errors.append(f"{where(app)}: no {ARGOCD_FINALIZER} finalizer: deleting it would orphan its resources")
        if not ((spec.get("syncPolicy") or {}).get("automated") or {}).get("prune"):
            errors.append(f"{where(app)}: syncPolicy.automated.prune is not true: removed manifests would linger")
        if not (spec.get("destination") or {}).get("namespace"):
            errors.append(f"{where(app)}: no destination namespace: under a restricted AppProject Argo CD marks it "
                          "InvalidSpecError (a destination glob never matches an empty namespace)")
        for source in [spec.get("source")] + list(spec.get("sources") or []):
            if source is None:
                continue
            revision = source.get("targetRevision", "")
            if not PINNED_REVISION.match(str(revision)):
                errors.append(f"{where(app)}: targetRevision {revision!r} is not pinned (a version tag or a commit SHA)")
    return errors


# Argo CD's order of a sync, as gitops-engine sorts its tasks: argoproj/gitops-engine
# pkg/sync/sync_tasks.go, `syncTasks.Less` (phase, then wave, then kind, then name) with the phase
# order of `syncPhaseOrder` and the kind order of its `init()` (`kindOrder`), read at commit
# 0d0c679d3cbc5a14fedbde46b7ce7be561a7a5e4. The list below follows that order; kinds it does not
# name sort after all of them. Not modelled: `adjustDeps` (Namespaces and CRDs bubbled before their
# users), SyncFail hooks, Helm hook annotations, and the health wait between waves (a later wave
# starts only once the earlier one is healthy, which is why a dependency in a later wave deadlocks).
SYNC_PHASES = {"PreSync": -1, "Sync": 0, "PostSync": 1}
SYNC_KIND_ORDER = [
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
    "CronJob", "Ingress", "APIService",
]
KUSTOMIZE_HASH = re.compile(r"-[a-z0-9]{10}$")  # the name suffix kustomize gives generated objects


def sync_position(obj: dict) -> tuple[int, int, int, str]:
    """(phase, wave, kind, name) of an object in an Argo CD sync; non-hooks are in phase Sync."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    hook = annotations.get("argocd.argoproj.io/hook", "Sync").split(",")[0].strip()
    phase = SYNC_PHASES.get(hook, 0)
    wave = int(annotations.get("argocd.argoproj.io/sync-wave", "0"))
    kind = obj.get("kind", "")
    order = SYNC_KIND_ORDER.index(kind) - len(SYNC_KIND_ORDER) if kind in SYNC_KIND_ORDER else 0
    return phase, wave, order, obj.get("metadata", {}).get("name", "")


def phase_name(position: tuple) -> str:
    phase = {v: k for k, v in SYNC_PHASES.items()}[position[0]]
    return f"phase {phase} wave {position[1]}"


def check_sync_order(objects: list[dict]) -> list[str]:
    """Argo CD applies a phase/wave and waits for it to be healthy before the next one."""
    errors = []
    present = {object_key(obj): obj for obj in objects}
    for obj in objects:
        if pod_template(obj) is None:
            continue
        position = sync_position(obj)
        namespace = obj["metadata"].get("namespace")
        is_hook = "argocd.argoproj.io/hook" in (obj["metadata"].get("annotations") or {})
        for kind, name, _, what in references_of(obj):
            target = present.get(key(kind, namespace, name))
            if target is None:
                continue
            needed = sync_position(target)
            if needed[:2] > position[:2]:
                errors.append(
                    f"{where(obj)} ({phase_name(position)}): {what} needs {kind} {namespace}/{name}, which Argo CD "
                    f"creates later ({phase_name(needed)}); the sync waits forever. Give {kind} {name} the "
                    f"annotation argocd.argoproj.io/sync-wave <= {position[1]} (generatorOptions.annotations "
                    f"for generated objects)"
                )
            if is_hook and kind in ("ConfigMap", "Secret") and not KUSTOMIZE_HASH.search(name):
                errors.append(
                    f"{where(obj)} is a hook reading {kind} {namespace}/{name}, whose name does not change with "
                    f"its content: a change would not rerun the hook. Generate it (configMapGenerator/"
                    f"secretGenerator) with the name-suffix hash"
                )
    return errors


def dataset_uris(schedules: dict) -> list[tuple[str, str]]:
    """(recurring run, URI) for every `*_uri` parameter naming an object store (s3://, gs://), and
    the gs:// pipeline root its artifacts go to (the launcher writes there with the pod's identity)."""
    found = []
    default_root = (schedules.get("defaults") or {}).get("pipeline_root")
    for run in schedules.get("recurring_runs") or []:
        root = run.get("pipeline_root", default_root)
        if isinstance(root, str) and root.startswith("gs://"):
            found.append((run.get("name", "?"), root))
        for name, value in (run.get("parameters") or {}).items():
            if name.endswith("_uri") and isinstance(value, str) and value.split("://")[0] in ("s3", "gs"):
                found.append((run.get("name", "?"), value))
    return found


def check_data_contract(env: str, objects: list[dict], root: Path = ROOT) -> list[str]:
    """schedules/<env>.yaml reads what config/platform/<env>.yaml and the render let steps read."""
    schedules_path = root / "schedules" / f"{env}.yaml"
    platform_path = root / "config" / "platform" / f"{env}.yaml"
    schedules = yaml.safe_load(schedules_path.read_text()) or {}
    platform = yaml.safe_load(platform_path.read_text()) or {}
    secrets_as_env = (platform.get("defaults") or {}).get("secrets_as_env") or {}
    env_keys = {key: secret for secret, keys in secrets_as_env.items() for key in keys}
    present = {object_key(o): o for o in objects}
    errors = []
    for run, uri in dataset_uris(schedules):
        where_ = f"schedules/{env}.yaml recurring run {run}: {uri}"
        if uri.startswith("s3://"):
            missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if k not in env_keys]
            if missing:
                errors.append(f"{where_} is read with S3 credentials, but config/platform/{env}.yaml gives steps "
                              f"no {', '.join(missing)} (defaults.secrets_as_env); add a Secret with them, or use "
                              f"the scheme the platform provides (gs:// with Workload Identity)")
                continue
            secret = present.get(key("Secret", "kubeflow", env_keys["AWS_ACCESS_KEY_ID"]))
            minio = next((o for o in objects if o["kind"] == "Secret"
                          and o["metadata"]["name"].startswith("minio-credentials")), None)
            if secret is not None and minio is not None:
                access = base64.b64decode((secret.get("data") or {}).get("AWS_ACCESS_KEY_ID", "")).decode()
                root_user = base64.b64decode((minio.get("data") or {}).get("MINIO_ROOT_USER", "")).decode()
                if access and access == root_user:
                    errors.append(f"{where_}: steps get the MinIO root user {access} (Secret kubeflow/"
                                  f"{secret['metadata']['name']}); give them a least-privilege user")
            bucket = uri.split("://", 1)[1].split("/", 1)[0]
            job = next((o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "minio-create-bucket"), None)
            if job is not None:
                script = " ".join(" ".join(c.get("args", []) + c.get("command", []))
                                  for c in job["spec"]["template"]["spec"]["containers"])
                if f"local/{bucket}" not in script:
                    errors.append(f"{where_}: bucket {bucket} is not created by Job mlflow/minio-create-bucket; "
                                  f"add `mc mb --ignore-existing local/{bucket}` to it")
        elif uri.startswith("gs://"):
            account = ((schedules.get("defaults") or {}).get("service_account")) or "default"
            sa = present.get(key("ServiceAccount", "kubeflow", account))
            annotations = ((sa or {}).get("metadata") or {}).get("annotations") or {}
            if "iam.gke.io/gcp-service-account" not in annotations:
                errors.append(f"{where_} is read through Workload Identity, but ServiceAccount kubeflow/{account} "
                              f"(schedules defaults.service_account) has no iam.gke.io/gcp-service-account "
                              f"annotation; add one in k8s/overlays/{env}")
    return errors


def check_release_version(objects: Iterable[dict], version: str, repo_url: str) -> list[str]:
    """What deploys churnops follows its one version: the component image tag and this
    repository's Argo CD targetRevision."""
    errors = []
    objects = list(objects)
    for obj, container in pod_containers(objects):
        image = container.get("image", "")
        if image.startswith(COMPONENT_IMAGE + ":") and image != f"{COMPONENT_IMAGE}:{version}":
            errors.append(f"{where(obj)}: container {container['name']} image {image!r} is not "
                          f"{COMPONENT_IMAGE}:{version} (churnops.__version__)")
    for app in (o for o in objects if o.get("kind") == "Application" and o.get("apiVersion", "").startswith("argoproj.io/")):
        spec = app.get("spec", {})
        for source in [spec.get("source")] + list(spec.get("sources") or []):
            if source and source.get("repoURL") == repo_url and source.get("targetRevision") != f"v{version}":
                errors.append(f"{where(app)}: targetRevision {source.get('targetRevision')!r} of {repo_url} is not "
                              f"v{version} (churnops.__version__; set appVersion in k8s/argocd/Chart.yaml)")
    return errors


def external_for(name: str, external: dict[str, list[dict]]) -> list[dict]:
    """The entries of k8s/external-resources.yaml for one render: keys are render names in which a
    path segment may be a glob (`k8s/overlays/*` is every environment's overlay)."""
    return [entry for pattern, entries in external.items() if matches(name, pattern) for entry in entries or []]


def matches(name: str, pattern: str) -> bool:
    parts, globs = name.split("/"), pattern.split("/")
    return len(parts) == len(globs) and all(fnmatch.fnmatchcase(p, g) for p, g in zip(parts, globs, strict=True))


def load_checkov_skips(path: Path = CHECKOV_SKIPS) -> tuple[list[str], list[str]]:
    """(check ids, errors): every skip needs a reason."""
    skips = yaml.safe_load(path.read_text()) or {}
    errors = [f"{relative(path)}: {check} has no reason" for check, reason in skips.items() if not str(reason or "").strip()]
    return sorted(skips), errors


def check_checkov(renders: list[Render], skips: list[str], checkov: Path = CHECKOV) -> list[str]:
    """Run checkov once over every render; return one error per failed check."""
    if not checkov.exists():
        return [f"checkov is not installed at {checkov}: run `make tools`"]
    with tempfile.TemporaryDirectory() as tmp:
        for index, render in enumerate(renders):
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", render.name)
            Path(tmp, f"{index:02d}-{safe}.yaml").write_text(yaml.safe_dump_all(render.objects, sort_keys=False))
        cmd = [str(checkov), "--directory", tmp, "--framework", "kubernetes", "--output", "json",
               "--quiet", "--compact", "--skip-download"]
        if skips:
            cmd += ["--skip-check", ",".join(skips)]
        result = run(cmd)
    try:
        report = json.loads(result.stdout or "null")
    except json.JSONDecodeError:
        return [f"checkov produced no report (exit {result.returncode}): {result.stderr.strip()[-2000:]}"]
    if report is None:
        return [f"checkov produced no report (exit {result.returncode}): {result.stderr.strip()[-2000:]}"]
    reports = report if isinstance(report, list) else [report]
    errors = []
    scanned = sum((part.get("summary") or {}).get("resource_count", 0) for part in reports)
    if renders and any(r.objects for r in renders) and scanned == 0:
        errors.append("checkov scanned no resource: the scan did not run on the renders")
    for part in reports:
        # an empty scan reports {"passed": 0, "failed": 0, ...} without "results"
        for failed in (part.get("results") or {}).get("failed_checks", []):
            errors.append(f"{failed['file_path'].lstrip('/')}: {failed['resource']}: {failed['check_id']} {failed['check_name']}")
        if part.get("summary", {}).get("parsing_errors"):
            errors.append(f"checkov could not parse {part['summary']['parsing_errors']} file(s)")
    if not errors and result.returncode != 0:
        errors.append(f"checkov exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return errors


# ---------------------------------------------------------------- driver


def collect_renders(root: Path = ROOT) -> list[Render]:
    renders = []
    for target in kustomize_targets(root):
        objects, error = build_kustomization(target)
        render = Render(relative(target, root), objects)
        if error:
            render.errors.append(f"kubectl kustomize failed: {error}")
        renders.append(render)
    for values in argocd_values_files(root):
        objects, errors = render_argocd(values)
        renders.append(Render(relative(values, root), objects, errors=errors))
    for values in chart_values_files(root):
        objects, errors = helm_lint_and_template(values)
        name = f"charts/mlflow with {relative(values, root) if values else 'default values'}"
        # chart values reference Secrets created by whoever installs the chart: reference
        # checks run on the kustomizations that use the chart's output, not on bare renders
        renders.append(Render(name, objects, check_references=False, errors=errors))
    return renders


def validate(renders: list[Render], external: dict[str, list[dict]], crd_schemas: dict[str, dict],
             version: str | None = None, repo_url: str | None = None) -> dict[str, list[str]]:
    """Run every per-render check; return {render name: errors}."""
    version = version or package_version()
    repo_url = repo_url or argocd_repo_url()
    results = {}
    for render in renders:
        errors = list(render.errors)
        errors += check_schema(render.objects, crd_schemas)
        if render.check_references:
            errors += check_references(render.objects, external_for(render.name, external))
        errors += check_services(render.objects)
        errors += check_images(render.objects)
        errors += check_resources(render.objects)
        errors += check_argocd(render.objects)
        errors += check_sync_order(render.objects)
        overlay = re.fullmatch(r"k8s/overlays/([^/]+)", render.name)
        if overlay:
            errors += check_data_contract(overlay.group(1), render.objects)
        errors += check_release_version(render.objects, version, repo_url)
        results[render.name] = errors
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate the Kubernetes bundle offline.")
    parser.parse_args(argv)
    for tool in (KUBECTL, HELM):
        if not tool.exists():
            print(f"{tool} is missing: run `make tools`", file=sys.stderr)
            return 2

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import chart_readme
    import render_mlflow_chart

    failed = False
    print("== drift: k8s/components/mlflow-* against charts/mlflow")
    if render_mlflow_chart.main(["--check"]) != 0:
        failed = True
    else:
        print("   ok")
    print("== readme: charts/mlflow/README.md against the `# --` comments of values.yaml")
    if chart_readme.main(["--check"]) != 0:
        failed = True
    else:
        print("   ok")

    layout_errors = check_layout()
    print(f"== layout: k8s/**/kustomization.yaml: {'ok' if not layout_errors else f'{len(layout_errors)} error(s)'}")
    for error in layout_errors:
        print(f"   {error}")
    failed |= bool(layout_errors)

    renders = collect_renders()
    external = yaml.safe_load(EXTERNAL.read_text()) or {}
    unknown = sorted(p for p in external if not any(matches(r.name, p) for r in renders))
    if unknown:
        failed = True
        print(f"== {relative(EXTERNAL)} names renders that do not exist: {unknown}")
    results = validate(renders, external, load_crd_schemas())
    for name, errors in results.items():
        count = len(next(r for r in renders if r.name == name).objects)
        print(f"== {name}: {count} objects, {'ok' if not errors else f'{len(errors)} error(s)'}")
        for error in errors:
            print(f"   {error}")
        failed |= bool(errors)

    skips, skip_errors = load_checkov_skips()
    checkov_errors = skip_errors + check_checkov(renders, skips)
    outcome = "ok" if not checkov_errors else f"{len(checkov_errors)} failure(s)"
    print(f"== checkov (skipped: {', '.join(skips) or 'none'}): {outcome}")
    for error in checkov_errors:
        print(f"   {error}")
    failed |= bool(checkov_errors)

    print("validation FAILED" if failed else "validation passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
