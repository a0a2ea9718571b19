"""The first GitOps sync of an empty cluster, for every environment: the root Application applied as
docs/kubernetes.md says, Argo CD (application-controller + repo-server built at the pin) syncing
this checkout from the loopback git server, the real kube-apiserver admitting every object.

What this shows and what it cannot (docs/kubernetes.md, "The local control plane"): kwok's kubelet
runs no container, so a pod is Running/Ready and a Job pod Succeeded after the stage delays whatever
its image would do; KFP's two Applications cannot fetch github.com/kubeflow/pipelines here.
"""

from __future__ import annotations

import pytest
from support.environments import ENVIRONMENTS

from scripts.cluster import gitops

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


def test_hooks_ran(synced):
    """The PostSync schedules sync and the migration Sync hook ran to completion."""
    env, _, states, _ = synced
    hooks = {s.name: s.hooks for s in states}
    assert any("Job kubeflow/churnops-schedules-sync PostSync Succeeded" == h
               for h in hooks.get(f"churnops-schedules-sync-{env}", [])), report(states, env)
    assert any(h.startswith("Job mlflow/mlflow-db-migrate Sync Succeeded")
               for h in hooks.get(f"churnops-mlflow-{env}", [])), report(states, env)


def test_kfp_applications_fail_only_on_the_unreachable_repository(synced):
    env, _, states, _ = synced
    for name in gitops.KFP_APPS:
        (state,) = [s for s in states if s.name == f"{name}-{env}"]
        assert state.repo_unreachable, state.why()
        assert not [c for c in state.conditions if "ComparisonError" not in c], state.why()
