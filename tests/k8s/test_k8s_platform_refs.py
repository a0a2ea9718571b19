"""The pipeline platform config of each environment only names Secrets, keys and ConfigMaps that the
environment's Kubernetes bundle creates (or declares external): a step never sits in
CreateContainerConfigError on a cluster because a key exists in one file and not the other."""

from __future__ import annotations

import pytest
import yaml
from k8s_helpers import ROOT, build, validate
from support.environments import ENVIRONMENTS

import components
from churnops.app.platform_config import load_platform_config

NAMESPACE = "kubeflow"  # where KFP (standalone) runs pipeline pods


def external(env: str) -> set[tuple[str, str]]:
    listed = validate.external_for(f"k8s/overlays/{env}", yaml.safe_load(validate.EXTERNAL.read_text()))
    return {(item["kind"], item["name"]) for item in listed if item.get("namespace") == NAMESPACE}


def step_settings(env: str) -> list[dict]:
    config = load_platform_config(ROOT / "config" / "platform" / f"{env}.yaml", components.__all__)
    return [config.for_step(name) for name in components.__all__]


def rendered_data(objects: list[dict], kind: str, name: str) -> dict | None:
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta["name"] == name and meta.get("namespace") == NAMESPACE:
            return {**obj.get("data", {}), **obj.get("stringData", {})}
    return None


def missing_references(env: str, steps: list[dict]) -> list[str]:
    objects = build(f"k8s/overlays/{env}")
    declared_external = external(env)
    problems = []
    for settings in steps:
        wanted = [("Secret", name, keys) for name, keys in settings.get("secrets_as_env", {}).items()]
        wanted += [("ConfigMap", name, keys) for name, keys in settings.get("config_maps_as_env", {}).items()]
        wanted += [("Secret", name, []) for name in settings.get("image_pull_secrets", [])]
        for kind, name, keys in wanted:
            data = rendered_data(objects, kind, name)
            if data is None:
                if (kind, name) not in declared_external:
                    problems.append(f"{kind} {NAMESPACE}/{name} is neither rendered nor declared external")
                continue
            problems += [f"{kind} {NAMESPACE}/{name} has no key {key}" for key in keys if key not in data]
    return sorted(set(problems))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_platform_config_references_exist_in_the_bundle(env):
    assert missing_references(env, step_settings(env)) == []


def test_a_key_the_bundle_does_not_create_is_caught():
    steps = step_settings("dev")
    steps[0] = {**steps[0], "secrets_as_env": {"churnops-mlflow": ["MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"]}}
    assert missing_references("dev", steps) == ["Secret kubeflow/churnops-mlflow has no key MLFLOW_TRACKING_TOKEN"]


def test_a_secret_neither_rendered_nor_external_is_caught():
    steps = [{"image_pull_secrets": ["registry-typo"]}]
    assert missing_references("prod", steps) == [
        "Secret kubeflow/registry-typo is neither rendered nor declared external"
    ]
