"""The first GitOps sync of an empty cluster, for every environment: the root Application applied as
docs/kubernetes.md says, Argo CD (application-controller + repo-server built at the pin) syncing
this checkout from the loopback git server, the real kube-apiserver admitting every object.

What this shows and what it cannot (docs/kubernetes.md, "The local control plane"): kwok's kubelet
runs no container, so a pod is Running/Ready and a Job pod Succeeded after the stage delays whatever
its image would do; KFP's two Applications cannot fetch github.com/kubeflow/pipelines here.
"""

from __future__ import annotations

import json

import pytest
from support.environments import ENVIRONMENTS

from scripts.cluster import gitops, plane

TIMEOUT = 150  # s; an all-green dev sync takes ~40 s here


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def synced(request, empty_cluster_factory):
    empty_cluster_factory()
    env = request.param
    ok, states, green = gitops.sync(env, TIMEOUT)
    return env, ok, states, green


def report(states: list[gitops.AppState], env: str) -> str:
    return gitops.table(states) + "\n" + "\n".join(s.why() for s in states if not gitops.expected(s, env))


def test_every_application_ends_synced_and_healthy(synced):
    """Serving (and so the root) may instead be Progressing on the InferenceService alone
    (gitops.SERVING_CAUSE; test_apply_k.py shows why)."""
    env, ok, states, _ = synced
    names = {s.name for s in states}
    assert {f"churnops-mlflow-{env}", f"churnops-serving-{env}", f"churnops-schedules-sync-{env}"} <= names, report(
        states, env)
    assert ok, report(states, env)


def test_applications_turn_green_in_wave_order(synced):
    env, _, states, green = synced
    wave = {s.name: s.wave for s in states}
    for later, name in enumerate(green):
        earlier_waves = [wave[n] for n in green[:later] if n != f"churnops-{env}"]
        if name != f"churnops-{env}":
            assert all(w <= wave[name] for w in earlier_waves), f"{name} (wave {wave[name]}) green after {green[:later]}"


def hook_ran(state: gitops.AppState, job: str, hook_type: str) -> bool:
    """The last sync reports the hook Job Succeeded, or (when its syncResult no longer lists an earlier
    wave's hook) the Job is among the Application's hooks and complete in the cluster."""
    if f"Job {job} {hook_type} Succeeded" in state.hooks:
        return True
    namespace, name = job.split("/")
    found = plane.kubectl("-n", namespace, "get", "job", name, "-o", "json", check=False)
    return (f"Job {job}" in state.hook_resources and found.returncode == 0
            and bool(json.loads(found.stdout).get("status", {}).get("succeeded")))


@pytest.mark.parametrize(("app", "job", "hook_type"), [
    ("churnops-schedules-sync", "kubeflow/churnops-schedules-sync", "PostSync"),
    ("churnops-mlflow", "mlflow/mlflow-db-migrate", "Sync"),
])
def test_hooks_ran(synced, app, job, hook_type):
    """The PostSync schedules sync and the migration Sync hook ran to completion."""
    env, _, states, _ = synced
    (state,) = [s for s in states if s.name == f"{app}-{env}"] or [None]
    assert state is not None and hook_ran(state, job, hook_type), report(states, env) + "\n" + (
        f"hooks {state.hooks}, hook resources {state.hook_resources}" if state else "")


def test_kfp_applications_fail_only_on_the_unreachable_repository(synced):
    env, _, states, _ = synced
    for name in gitops.KFP_APPS:
        (state,) = [s for s in states if s.name == f"{name}-{env}"]
        assert state.repo_unreachable, state.why()
        assert not [c for c in state.conditions if "ComparisonError" not in c], state.why()
