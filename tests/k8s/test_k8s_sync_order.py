"""The `ordering` check of scripts/k8s/validate.py: Argo CD's sync order (phase, wave, kind).

The order follows argoproj/gitops-engine pkg/sync/sync_tasks.go `syncTasks.Less` and `kindOrder`
(commit cited in validate.py). Every overlay passes; each seeded mistake is reported.
"""

from __future__ import annotations

import copy

import pytest
from k8s_helpers import find, validate
from support.environments import ENVIRONMENTS

WAVE = "argocd.argoproj.io/sync-wave"


def annotations(obj: dict) -> dict:
    return obj["metadata"].setdefault("annotations", {})


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_workload_or_hook_needs_an_object_of_a_later_wave(overlays, env):
    # fails on main (5803999): dev's generated Secrets had no wave (0) while the StatefulSets
    # reading them are wave -2, and the migration hook (wave -1) ran as the wave-0 ServiceAccount
    assert validate.check_sync_order(overlays[env]) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_schedules_sync_passes_the_ordering_check(env):
    from k8s_helpers import build
    assert validate.check_sync_order(build(f"k8s/overlays/{env}/schedules-sync")) == []


def test_a_generated_secret_without_a_wave_is_reported(dev):
    objects = copy.deepcopy(dev)
    secret = find(objects, "Secret", "postgres-credentials", "mlflow")
    annotations(secret).pop(WAVE)
    errors = validate.check_sync_order(objects)
    assert any("StatefulSet mlflow/postgres" in e and "postgres-credentials" in e and "later (phase Sync wave 0)" in e
               for e in errors), errors


def test_a_service_account_of_a_later_wave_is_reported(prod):
    objects = copy.deepcopy(prod)
    annotations(find(objects, "ServiceAccount", "mlflow", "mlflow"))[WAVE] = "1"
    errors = validate.check_sync_order(objects)
    assert any("Job mlflow/mlflow-db-migrate" in e and "ServiceAccount mlflow/mlflow" in e for e in errors), errors


def test_a_sync_object_needed_by_a_presync_hook_is_reported(dev):
    objects = copy.deepcopy(dev)
    annotations(find(objects, "Job", "mlflow-db-migrate", "mlflow"))["argocd.argoproj.io/hook"] = "PreSync"
    errors = validate.check_sync_order(objects)
    assert any("phase PreSync" in e and "mlflow-backend-store" in e for e in errors), errors


def test_a_hook_reading_an_unhashed_config_map_is_reported(dev):
    objects = copy.deepcopy(dev)
    job = find(objects, "Job", "mlflow-db-migrate", "mlflow")
    job["spec"]["template"]["spec"].setdefault("volumes", []).append({"name": "inputs", "configMap": {"name": "inputs"}})
    objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "inputs", "namespace": "mlflow", "annotations": {WAVE: "-3"}}, "data": {}})
    errors = validate.check_sync_order(objects)
    assert any("hook reading ConfigMap mlflow/inputs" in e and "name-suffix hash" in e for e in errors), errors


def test_kind_order_within_a_wave_follows_gitops_engine():
    def obj(kind, wave="0", hook=None):
        meta = {"name": "x", "annotations": {WAVE: wave}}
        if hook:
            meta["annotations"]["argocd.argoproj.io/hook"] = hook
        return {"kind": kind, "metadata": meta}
    ordered = sorted([obj("Job"), obj("Deployment"), obj("Secret"), obj("ServiceMonitor"), obj("Namespace"),
                      obj("Job", hook="PostSync"), obj("ConfigMap", "-1")], key=validate.sync_position)
    assert [(o["kind"], validate.sync_position(o)[:2]) for o in ordered] == [
        ("ConfigMap", (0, -1)), ("Namespace", (0, 0)), ("Secret", (0, 0)), ("Deployment", (0, 0)), ("Job", (0, 0)),
        ("ServiceMonitor", (0, 0)), ("Job", (1, 0))]
