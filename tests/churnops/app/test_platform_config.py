"""Platform config files: the shipped ones are valid; mistakes are named with their fix."""

from __future__ import annotations

import pytest
from support.environments import ENVIRONMENTS
from support.paths import REPO

import components
from churnops.app.platform_config import load_platform_config
from churnops.errors import ConfigError


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_shipped_platform_files_are_valid(env):
    config = load_platform_config(REPO / "config" / "platform" / f"{env}.yaml", components.__all__)

    assert config.for_step("train_model")["resources"]["cpu_limit"] != config.defaults["resources"]["cpu_limit"]
    assert config.for_step("register-model")["retries"]["count"] == 0, "task names with '-' find their component"
    assert config.for_step("evaluate_model") == config.defaults


@pytest.mark.parametrize(("text", "entry", "field", "words"), [
    ("defaults: {colour: blue}", "defaults", "colour", "unknown setting"),
    ("defaults: {resources: {cpu_limit: lots}}", "defaults", "resources.cpu_limit", "Kubernetes quantity"),
    ("defaults: {resources: {memory_limit: 4GB}}", "defaults", "resources.memory_limit", "4Gi"),
    ("defaults: {tolerations: [{key: a, operator: Maybe}]}", "defaults", "tolerations[0].operator", "Equal or Exists"),
    ("defaults: {pod_labels: {team: 42}}", "defaults", "pod_labels", "quote numbers"),
    ("defaults: {secrets_as_env: {churnops-mlflow: []}}", "defaults", "secrets_as_env.churnops-mlflow", "non-empty"),
    ("defaults: {retries: {count: -1}}", "defaults", "retries.count", ">= 0"),
    ("defaults: {image_pull_policy: Sometimes}", "defaults", "image_pull_policy", "IfNotPresent"),
    ("steps: {train: {caching: true}}", "steps.train", "", "evaluate_model, "),
    ("platforms: {}", "", "platforms", "allowed: defaults, steps"),
])
def test_invalid_platform_settings_are_named(tmp_path, text, entry, field, words):
    path = tmp_path / "platform.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_platform_config(path, components.__all__)

    assert any((p.entry, p.field) == (entry, field) and words in p.message for p in raised.value.problems), \
        raised.value.problems
