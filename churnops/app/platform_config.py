"""Per-environment platform config: how every pipeline step runs on the cluster.

One small YAML file per environment (`config/platform/<env>.yaml`) says which Secrets and
ConfigMaps become environment variables, which nodes the step pods land on, pod labels for
cost attribution, resources, retries, caching and timeouts. `defaults` applies to every step
of every pipeline; `steps.<component>` overrides it for one component (by its function name,
e.g. `train_model`), so tasks added later get the defaults without any edit here.

This module only reads and validates (no kfp import); `pipelines/platform.py` applies it at compile time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from churnops.errors import ConfigError, Problem

K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# Label keys: optional DNS prefix + "/" + name; values: up to 63 chars of [A-Za-z0-9_.-].
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
DURATION = re.compile(r"^[0-9]+(s|m|h)$")

SETTINGS = (
    "secrets_as_env", "config_maps_as_env", "image_pull_secrets", "image_pull_policy",
    "node_selector", "tolerations", "pod_labels", "pod_annotations", "resources",
    "retries", "caching", "timeout_seconds",
)
RESOURCE_KEYS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
RETRY_KEYS = ("count", "backoff", "factor", "max_backoff")
TOLERATION_KEYS = ("key", "operator", "value", "effect", "toleration_seconds")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


@dataclass(frozen=True)
class PlatformConfig:
    """Validated settings: `defaults` for every step, `steps[name]` overrides per component."""

    defaults: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""

    def for_step(self, component_name: str) -> dict[str, Any]:
        """The settings of one component: its overrides merged over the defaults."""
        return merge(self.defaults, self.steps.get(component_name.replace("-", "_"), {}))


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Maps merge key by key (override wins); lists and scalars are replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load_platform_config(path: Path, known_steps: Iterable[str]) -> PlatformConfig:
    """Read and validate a platform file; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    config = validate_platform(read_platform_document(path), str(path), set(known_steps), problems)
    if problems:
        raise ConfigError(problems)
    return config


def read_platform_document(path: Path) -> Any:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", "", "file not found; create it or fix the path")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), "", "", f"not valid YAML: {exc}")]) from None
    return document if document is not None else {}


def validate_platform(document: Any, source: str, known_steps: set[str], problems: list[Problem]) -> PlatformConfig:
    if not isinstance(document, dict):
        problems.append(Problem(source, "", "", "must be a mapping with `defaults` and optional `steps`"))
        return PlatformConfig(source=source)
    for key in document:
        if key not in ("defaults", "steps"):
            problems.append(Problem(source, "", str(key), "unknown key; allowed: defaults, steps"))
    defaults = _settings(document.get("defaults") or {}, source, "defaults", problems)
    steps: dict[str, dict[str, Any]] = {}
    raw_steps = document.get("steps") or {}
    if not isinstance(raw_steps, dict):
        problems.append(Problem(source, "steps", "", "must map a component name to its settings"))
        raw_steps = {}
    for name, settings in raw_steps.items():
        if name not in known_steps:
            problems.append(Problem(source, f"steps.{name}", "",
                                    f"unknown component; known: {', '.join(sorted(known_steps))}"))
            continue
        steps[name] = _settings(settings or {}, source, f"steps.{name}", problems)
    return PlatformConfig(defaults=defaults, steps=steps, source=source)


def _settings(raw: Any, source: str, entry: str, problems: list[Problem]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(Problem(source, entry, "", "must be a mapping of settings"))
        return {}
    def bad(field_name: str, message: str) -> None:
        problems.append(Problem(source, entry, field_name, message))

    for key in raw:
        if key not in SETTINGS:
            bad(str(key), f"unknown setting; allowed: {', '.join(SETTINGS)}")
    settings: dict[str, Any] = {}
    for key in ("secrets_as_env", "config_maps_as_env"):
        if key in raw:
            settings[key] = _env_sources(raw[key], key, bad)
    if "image_pull_secrets" in raw:
        value = raw["image_pull_secrets"]
        if not isinstance(value, list) or not all(isinstance(v, str) and K8S_NAME.match(v) for v in value):
            bad("image_pull_secrets", "must be a list of Secret names (lowercase DNS names)")
        else:
            settings["image_pull_secrets"] = value
    if "image_pull_policy" in raw:
        if raw["image_pull_policy"] not in PULL_POLICIES:
            bad("image_pull_policy", f"must be one of {', '.join(PULL_POLICIES)}")
        else:
            settings["image_pull_policy"] = raw["image_pull_policy"]
    for key in ("node_selector", "pod_labels"):
        if key in raw:
            settings[key] = _labels(raw[key], key, bad)
    if "pod_annotations" in raw:
        value = raw["pod_annotations"]
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            bad("pod_annotations", "must map annotation keys to string values (quote numbers)")
        else:
            settings["pod_annotations"] = value
    if "tolerations" in raw:
        settings["tolerations"] = _tolerations(raw["tolerations"], bad)
    if "resources" in raw:
        settings["resources"] = _resources(raw["resources"], bad)
    if "retries" in raw:
        settings["retries"] = _retries(raw["retries"], bad)
    if "caching" in raw:
        if not isinstance(raw["caching"], bool):
            bad("caching", "must be true or false")
        else:
            settings["caching"] = raw["caching"]
    if "timeout_seconds" in raw:
        value = raw["timeout_seconds"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            bad("timeout_seconds", "must be a whole number of seconds >= 0 (0 = no timeout)")
        else:
            settings["timeout_seconds"] = value
    return settings


def _env_sources(raw: Any, key: str, bad) -> dict[str, dict[str, str]]:
    """`{resource: [KEY, ...]}` (same env name) or `{resource: {KEY: ENV_NAME}}`."""
    if not isinstance(raw, dict):
        bad(key, "must map a resource name to a list of keys or to {key: ENV_NAME}")
        return {}
    sources: dict[str, dict[str, str]] = {}
    for name, keys in raw.items():
        if not isinstance(name, str) or not K8S_NAME.match(name):
            bad(key, f"{name!r} is not a valid Kubernetes resource name")
            continue
        mapping = {k: k for k in keys} if isinstance(keys, list) else keys
        if not isinstance(mapping, dict) or not mapping or not all(
            isinstance(k, str) and isinstance(v, str) and ENV_NAME.match(v) for k, v in mapping.items()
        ):
            bad(f"{key}.{name}", "must be a non-empty list of keys or a map {key: ENV_NAME} (env names: [A-Za-z_][A-Za-z0-9_]*)")
            continue
        sources[name] = dict(mapping)
    return sources


def _labels(raw: Any, key: str, bad) -> dict[str, str]:
    if not isinstance(raw, dict):
        bad(key, "must map label keys to values")
        return {}
    for label, value in raw.items():
        if not isinstance(label, str) or not LABEL_KEY.match(label):
            bad(key, f"{label!r} is not a valid label key")
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            bad(key, f"value of {label!r} must be a string of up to 63 [A-Za-z0-9_.-] characters (quote numbers)")
    return {str(k): str(v) for k, v in raw.items()}


def _tolerations(raw: Any, bad) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        bad("tolerations", "must be a list of {key, operator, value, effect, toleration_seconds}")
        return []
    for index, item in enumerate(raw):
        where = f"tolerations[{index}]"
        if not isinstance(item, dict):
            bad(where, "must be a mapping")
            continue
        for key in item:
            if key not in TOLERATION_KEYS:
                bad(f"{where}.{key}", f"unknown key; allowed: {', '.join(TOLERATION_KEYS)}")
        operator = item.get("operator", "Equal")
        if operator not in ("Equal", "Exists"):
            bad(f"{where}.operator", "must be Equal or Exists")
        if operator == "Exists" and item.get("value"):
            bad(f"{where}.value", "must be empty when operator is Exists")
        if "effect" in item and item["effect"] not in EFFECTS:
            bad(f"{where}.effect", f"must be one of {', '.join(EFFECTS)}")
        if not item.get("key") and operator != "Exists":
            bad(f"{where}.key", "is required unless operator is Exists")
    return raw


def _resources(raw: Any, bad) -> dict[str, str]:
    if not isinstance(raw, dict):
        bad("resources", f"must be a mapping with {', '.join(RESOURCE_KEYS)}")
        return {}
    resources = {}
    for key, value in raw.items():
        if key not in RESOURCE_KEYS:
            bad(f"resources.{key}", f"unknown key; allowed: {', '.join(RESOURCE_KEYS)}")
            continue
        text = str(value)
        pattern = CPU if key.startswith("cpu") else MEMORY
        if isinstance(value, bool) or not pattern.match(text):
            example = "500m or 2" if key.startswith("cpu") else "512Mi or 4Gi"
            bad(f"resources.{key}", f"{value!r} is not a Kubernetes quantity (e.g. {example})")
            continue
        resources[key] = text
    return resources


def _retries(raw: Any, bad) -> dict[str, Any]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"count": raw}
    if not isinstance(raw, dict):
        bad("retries", "must be a count or {count, backoff, factor, max_backoff}")
        return {}
    for key in raw:
        if key not in RETRY_KEYS:
            bad(f"retries.{key}", f"unknown key; allowed: {', '.join(RETRY_KEYS)}")
    count = raw.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        bad("retries.count", "must be a whole number >= 0")
    for key in ("backoff", "max_backoff"):
        if key in raw and not DURATION.match(str(raw[key])):
            bad(f"retries.{key}", "must be a duration like 30s, 5m or 1h")
    if "factor" in raw and (isinstance(raw["factor"], bool) or not isinstance(raw["factor"], (int, float)) or raw["factor"] < 1):
        bad("retries.factor", "must be a number >= 1")
    return dict(raw)
