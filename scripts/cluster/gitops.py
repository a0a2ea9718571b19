"""`make cluster-gitops ENV=<env>`: the environment's first sync through Argo CD, from this checkout.

1. The working tree is committed (a temporary index; the checkout is untouched) into the loopback
   git server under the tag the Applications pin (`v` + the chart's appVersion).
2. The root Application and its AppProject are rendered as docs/kubernetes.md says
   (`helm template k8s/argocd -f k8s/argocd/values/<env>.yaml --set root=true`) with
   `--set repoURL=<the loopback git URL>`, and applied to the argocd namespace.
3. Argo CD does the rest. This waits until every Application is Synced and Healthy, printing each
   as it turns green (the order they do is the wave order), or, at the time-out, says which are
   not and why: their conditions, operation message and the resources that are not Synced/Healthy.

Kubeflow Pipelines' two Applications pull github.com/kubeflow/pipelines, which this machine cannot
reach and the module proxy does not serve (versions.toml [kfp]); their expected state here is
`REPO_UNREACHABLE` below, and what they would have created first (the `kubeflow` namespace) is
applied by `kfp_stand_in()`, labelled as such (docs/kubernetes.md says why).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass

import yaml

from scripts.cluster import gitserver, pins, plane, processes
from scripts.cluster.pins import ROOT

HELM = ROOT / ".tools" / "bin" / "helm"
KFP_APPS = ("kfp-cluster-resources", "kfp")
STAND_IN_LABEL = "churnops.local/stand-in-for"
# As far as this control plane goes for serving: no Knative autoscaler or networking layer runs, so
# the predictor's Revision never reports Ready and the InferenceService stays Progressing (its
# pods do run). The serving Application is accepted in that state only, caused by exactly that object.
SERVING_CAUSE = "serving.kserve.io/InferenceService:churnops-serving/churn-classifier"


@dataclass
class AppState:
    name: str
    wave: int
    sync: str
    health: str
    health_message: str
    phase: str
    conditions: list[str]
    message: str
    unhealthy: list[str]
    hooks: list[str]  # "<kind> <namespace>/<name> <hook type> <phase>" of the last sync operation
    # "<kind> <namespace>/<name>" of the hooks among the Application's resources: Argo CD v3.6.2 does not
    # always keep a hook of an earlier wave in the operation's syncResult (seen on prod's migration Job)
    hook_resources: list[str]

    @property
    def green(self) -> bool:
        return self.sync == "Synced" and self.health == "Healthy"

    @property
    def repo_unreachable(self) -> bool:
        """A KFP Application whose repository cannot be reached: what it can only show here."""
        return any("ComparisonError" in c and ("github.com/kubeflow/pipelines" in c) for c in self.conditions)

    def row(self) -> str:
        return f"{self.wave:>4}  {self.name:40} {self.sync:10} {self.health:12} {self.phase:10}"

    def why(self) -> str:
        lines = [f"{self.name}: sync {self.sync}, health {self.health}"
                 f"{' (' + self.health_message + ')' if self.health_message else ''}, operation {self.phase or '-'}"]
        lines += [f"  condition {c}" for c in self.conditions]
        if self.message:
            lines.append(f"  operation: {self.message}")
        lines += [f"  resource {r}" for r in self.unhealthy]
        return "\n".join(lines)


def chart_version() -> str:
    return yaml.safe_load((ROOT / "k8s" / "argocd" / "Chart.yaml").read_text())["appVersion"]


def render_root(env: str, repo_url: str) -> str:
    found = subprocess.run([str(HELM), "template", "k8s/argocd", "-f", f"k8s/argocd/values/{env}.yaml", "--set",
                            "root=true", "--set", f"repoURL={repo_url}"], cwd=ROOT, capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"churnops cluster: helm template of the root Application failed: {found.stderr}")
    return found.stdout


def kfp_stand_in() -> list[dict]:
    """What KFP's cluster-scoped-resources create first and the bundle deploys into: namespace
    `kubeflow` (kubeflow/pipelines manifests/kustomize/cluster-scoped-resources, not reachable here)."""
    return [{"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "kubeflow", "labels": {STAND_IN_LABEL: "kfp-cluster-resources"}}}]


def applications(namespace: str) -> list[AppState]:
    found = plane.kubectl("-n", namespace, "get", "applications.argoproj.io", "-o", "json", check=False)
    if found.returncode != 0:
        return []
    states = []
    for app in json.loads(found.stdout)["items"]:
        status = app.get("status", {})
        operation = status.get("operationState", {})
        unhealthy = []
        hooks = [f"{res.get('kind')} {res.get('namespace')}/{res.get('name')} {res.get('hookType')} {res.get('hookPhase')}"
                 for res in operation.get("syncResult", {}).get("resources", []) or [] if res.get("hookType")]
        for res in status.get("resources", []):
            health = res.get("health", {}).get("status", "")
            if res.get("status") != "Synced" or health not in ("", "Healthy"):
                detail = res.get("health", {}).get("message", "")
                unhealthy.append(f"{res.get('kind')} {res.get('namespace', '') + '/' if res.get('namespace') else ''}"
                                 f"{res['name']}: {res.get('status')}, {health or 'no health'}"
                                 f"{' (' + detail + ')' if detail else ''}")
        for res in operation.get("syncResult", {}).get("resources", []) or []:
            if res.get("status") not in ("Synced", "Pruned", None) or res.get("hookPhase") in ("Failed", "Error"):
                unhealthy.append(f"sync of {res.get('kind')} {res.get('name')}: {res.get('status')} "
                                 f"{res.get('hookPhase', '')} {res.get('message', '')}".rstrip())
        states.append(AppState(
            name=app["metadata"]["name"],
            wave=int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0")),
            sync=status.get("sync", {}).get("status", "") or "-", health=status.get("health", {}).get("status", "") or "-",
            health_message=status.get("health", {}).get("message", ""),
            phase=operation.get("phase", ""),
            conditions=[f"{c['type']}: {c.get('message', '')}" for c in status.get("conditions", [])],
            message=operation.get("message", ""), unhealthy=unhealthy, hooks=hooks,
            hook_resources=[f"{res.get('kind')} {res.get('namespace')}/{res.get('name')}"
                            for res in status.get("resources", []) if res.get("hook")]))
    return sorted(states, key=lambda s: (s.wave, s.name))


def expected(state: AppState, env: str) -> bool:
    """Done: Synced and Healthy. A KFP Application: failing only because its repository is unreachable.
    The serving Application (and so the root): Healthy, or Progressing because of the InferenceService
    alone (SERVING_CAUSE)."""
    if any(state.name == f"{kfp}-{env}" for kfp in KFP_APPS):
        return state.repo_unreachable
    cause = {f"churnops-serving-{env}": SERVING_CAUSE,
             f"churnops-{env}": f"argoproj.io/Application:argocd/churnops-serving-{env}"}.get(state.name)
    if cause and state.sync == "Synced" and state.health == "Progressing":
        return state.health_message == f"Caused by {cause}"
    return state.green


def table(states: list[AppState]) -> str:
    return "\n".join([f"wave  {'Application':40} {'sync':10} {'health':12} operation", *[s.row() for s in states]])


def sync(env: str, timeout: float) -> tuple[bool, list[AppState], list[str]]:
    """Apply the root Application of `env` and wait; returns (all as expected, final states, green order)."""
    settings = plane.read_env()
    if not settings or not processes.alive("argocd-application-controller"):
        raise SystemExit("churnops cluster: no control plane is running here: run `make cluster-up` first")
    if not (ROOT / "k8s" / "overlays" / env).is_dir():
        known = sorted(p.name for p in (ROOT / "k8s" / "overlays").iterdir())
        raise SystemExit(f"churnops cluster: no environment {env!r} (k8s/overlays has {', '.join(known)})")
    namespace = settings["ARGOCD_NAMESPACE"]
    commit = gitserver.snapshot(f"v{chart_version()}")
    print(f"churnops cluster: serving this checkout as {commit[:12]} (tag v{chart_version()}) at {settings['GIT_URL']}",
          flush=True)
    plane.apply(kfp_stand_in(), server_side=False)
    plane.kubectl("-n", namespace, "apply", "-f", "-", stdin=render_root(env, settings["GIT_URL"]))
    started = time.monotonic()
    green: list[str] = []
    states: list[AppState] = []
    while time.monotonic() - started < timeout:
        states = applications(namespace)
        for state in states:
            if state.green and state.name not in green:
                green.append(state.name)
                print(f"  {time.monotonic() - started:5.0f} s  {state.name}: Synced, Healthy", flush=True)
        children = [s for s in states if s.name != f"churnops-{env}"]
        if children and all(expected(s, env) for s in states):
            return True, states, green
        time.sleep(1)
    return False, states, green


def main(env: str, timeout: float) -> int:
    ok, states, _ = sync(env, timeout)
    print(table(states))
    if ok:
        print(f"churnops cluster: {env}: every churnops Application is Synced and Healthy (serving: Progressing on "
              "its InferenceService, as far as this control plane goes); the KFP ones fail only because "
              "github.com/kubeflow/pipelines is not reachable here (docs/kubernetes.md)")
        return 0
    print(f"churnops cluster: {env}: not all-green after {timeout:.0f} s:")
    for state in states:
        if not expected(state, env):
            print(state.why())
    print(f"(logs: {processes.logs_dir()})")
    return 1


__all__ = ["main", "sync", "applications", "AppState", "pins"]
