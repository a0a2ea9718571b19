"""What the sync reads from the Kubernetes API (with the `kubernetes` client, never kubectl):
the KFP API Service, and ConfigMap values that recurring-run parameters refer to.

A parameter may name a ConfigMap key instead of a value, so the schedule follows the cluster's
own config (e.g. the MLflow URI in `churnops-config`):

    mlflow_tracking_uri: {valueFrom: {configMapKeyRef: {name: churnops-config, key: MLFLOW_TRACKING_URI}}}

It is resolved at sync time (not by --check); the resolved value is part of the run's spec
hash, so a changed ConfigMap value replaces the runs that use it on the next sync.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from churnops.errors import ChurnopsError
from churnops.schedules.config import RecurringRunDecl, config_map_ref

DEFAULT_NAMESPACE = "kubeflow"


class ClusterError(ChurnopsError):
    """The Kubernetes API cannot be reached, or lacks what the schedules file refers to."""


def core_v1() -> Any:
    """A CoreV1Api: in-cluster credentials in a pod, else the kubeconfig ($KUBECONFIG or ~/.kube/config)."""
    import kubernetes

    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        try:
            # Read $KUBECONFIG now: the kubernetes package reads it once, at import time.
            kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        except (kubernetes.config.ConfigException, FileNotFoundError, TypeError) as exc:
            raise ClusterError(f"no Kubernetes credentials (not in a pod, and no usable kubeconfig: {exc}). "
                               "Run inside the cluster, point KUBECONFIG at the cluster, or write the "
                               "parameter values into the schedules file.") from None
    return kubernetes.client.CoreV1Api()


def discover_host(api: Any, namespace: str = DEFAULT_NAMESPACE, service: str = "ml-pipeline") -> str:
    """The in-cluster URL of the KFP API Service (its port named `http`)."""
    found = api.read_namespaced_service(service, namespace)
    ports = found.spec.ports or []
    port = next((p.port for p in ports if p.name == "http"), ports[0].port if ports else 8888)
    return f"http://{service}.{namespace}.svc.cluster.local:{port}"


def has_config_map_refs(runs: tuple[RecurringRunDecl, ...]) -> bool:
    return any(config_map_ref(value) for run in runs for value in run.parameters.values())


def resolve_config_map_refs(runs: tuple[RecurringRunDecl, ...], api: Any,
                            namespace: str | None) -> tuple[RecurringRunDecl, ...]:
    """The runs with every ConfigMap reference replaced by its value (one read per ConfigMap)."""
    from kubernetes.client.exceptions import ApiException

    cache: dict[tuple[str, str], dict[str, str]] = {}

    def value_of(ref: dict[str, str], run: str, parameter: str) -> str:
        where = (ref.get("namespace") or namespace or DEFAULT_NAMESPACE, ref["name"])
        if where not in cache:
            try:
                cache[where] = api.read_namespaced_config_map(where[1], where[0]).data or {}
            except ApiException as exc:
                raise ClusterError(f"recurring run {run}, parameter {parameter}: cannot read ConfigMap "
                                   f"{where[1]} in namespace {where[0]} (HTTP {exc.status} {exc.reason}). "
                                   "Create it, or give the sync's ServiceAccount `get` on it.") from None
        if ref["key"] not in cache[where]:
            raise ClusterError(f"recurring run {run}, parameter {parameter}: ConfigMap {where[1]} in namespace "
                               f"{where[0]} has no key {ref['key']} (it has: {', '.join(sorted(cache[where]))})")
        return cache[where][ref["key"]]

    resolved = []
    for run in runs:
        parameters = {name: value_of(ref, run.name, name) if (ref := config_map_ref(value)) else value
                      for name, value in run.parameters.items()}
        resolved.append(dataclasses.replace(run, parameters=parameters))
    return tuple(resolved)
