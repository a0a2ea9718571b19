"""Helpers shared by the Kubernetes bundle tests: the real binaries and the validator module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "k8s"))

import chart_readme  # noqa: E402,F401
import render_mlflow_chart  # noqa: E402,F401
import validate  # noqa: E402

CHART = ROOT / "charts" / "mlflow"
ARGOCD_VALUES = ROOT / "k8s" / "argocd" / "values"


def build(path: str) -> list[dict]:
    objects, error = validate.build_kustomization(ROOT / path)
    assert not error, error
    return objects


def find(objects: list[dict], kind: str, name: str, namespace: str | None = None) -> dict:
    """The object of that kind and name (a generated name with its hash suffix counts)."""
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == kind and (meta["name"] == name or meta["name"].startswith(name + "-")) \
                and (namespace is None or meta.get("namespace") == namespace):
            return obj
    raise AssertionError(f"{kind} {namespace}/{name} not in render")


def helm_template(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(validate.HELM), "template", "mlflow", str(CHART), "--namespace", "mlflow", *args],
        capture_output=True, text=True,
    )


def rendered(*args: str) -> list[dict]:
    result = helm_template(*args)
    assert result.returncode == 0, result.stderr
    return validate.load_documents(result.stdout)


def argocd_apps(env: str, *extra: str) -> list[dict]:
    """The Argo CD Applications the chart renders for one environment (`--set root=true`: the root)."""
    objects, error = validate.helm_template_argocd(ARGOCD_VALUES / f"{env}.yaml", *extra)
    assert not error, error
    return objects
