"""Helpers of the cluster tests (tests/cluster is on pytest's pythonpath, like tests/k8s)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from scripts.cluster import plane

ROOT = Path(__file__).resolve().parents[2]
# What the bundle creates and a scenario removes before the next (plane.reset)
BUNDLE_NAMESPACES = ("mlflow", "kubeflow", "churnops-serving", "kubeflow-user-example-com")


def kubectl_json(*args: str) -> dict:
    return json.loads(plane.kubectl(*args, "-o", "json").stdout)


def unconverged(namespaces: tuple[str, ...]) -> list[str]:
    """Every Deployment/StatefulSet of `namespaces` not at its ready replicas and every Job not complete."""
    found = plane.kubectl("get", "deployments,statefulsets,jobs", "-A", "-o", "json").stdout
    behind = []
    for obj in json.loads(found)["items"]:
        meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
        if meta["namespace"] not in namespaces:
            continue
        name = f"{obj['kind']} {meta['namespace']}/{meta['name']}"
        if obj["kind"] == "Job":
            if not status.get("succeeded"):
                behind.append(f"{name}: not complete ({status.get('conditions', [])})")
        elif status.get("readyReplicas", 0) < spec.get("replicas", 1) or status.get("observedGeneration", 0) < meta.get(
                "generation", 1):
            behind.append(f"{name}: {status.get('readyReplicas', 0)}/{spec.get('replicas', 1)} ready "
                          f"({status.get('conditions', [])})")
    return behind


def wait_converged(namespaces: tuple[str, ...], timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while (behind := unconverged(namespaces)) and time.monotonic() < deadline:
        time.sleep(1)
    return behind


def pods(namespace: str) -> list[dict]:
    return kubectl_json("-n", namespace, "get", "pods")["items"]


def events(namespace: str) -> str:
    """The namespace's Warning events (a rejected pod shows up here: the ReplicaSet's FailedCreate)."""
    return plane.kubectl("-n", namespace, "get", "events", "--field-selector=type=Warning", "-o",
                         "custom-columns=OBJECT:.involvedObject.name,REASON:.reason,MESSAGE:.message",
                         check=False).stdout
