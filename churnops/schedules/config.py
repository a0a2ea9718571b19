"""Read and validate a schedules file (`schedules/<env>.yaml`); see docs/schedules.md.

`validate` checks the whole file and returns every problem (file, entry, field, what is
wrong and how to fix it), so one run of `--check` lists them all and nothing is applied
while any is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import yaml

import components
from churnops.app.platform_config import read_platform_document, validate_platform
from churnops.core import run_time
from churnops.core.parameters import training_parameter_problems
from churnops.errors import ChurnopsError, ConfigError, Problem, entry_label
from churnops.schedules.cron import cron_problem
from churnops.schedules.marker import MAX_DESCRIPTION, room_for_description
from pipelines import PIPELINES

TOP_KEYS = ("scope", "platform", "defaults", "experiments", "pipelines", "recurring_runs")
DEFAULT_KEYS = ("experiment", "service_account", "max_concurrency", "catchup", "enabled", "pipeline_root", "parameters")
EXPERIMENT_KEYS = ("name", "description")
PIPELINE_KEYS = ("name", "function", "description")
RUN_KEYS = (
    "name", "description", "pipeline", "experiment", "cron", "interval_seconds", "start_time",
    "end_time", "max_concurrency", "catchup", "enabled", "service_account", "pipeline_root", "parameters",
)
# Where a run's artifacts (splits, models, predictions) go: the object stores KFP's launcher writes
# (kubeflow/pipelines 2.17.0 backend/src/v2/config/env.go GetStoreSessionInfo: minio, s3, gs).
# Unset, KFP uses the kfp-launcher ConfigMap's defaultPipelineRoot, else its in-cluster MinIO.
PIPELINE_ROOT = re.compile(r"^(gs|s3|minio)://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^\s]*)?$")
# Recurring run names become part of Kubernetes object names (ScheduledWorkflow) and of our marker.
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SCOPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
MAX_CONCURRENCY = 10  # the KFP API server refuses more
DEFAULT_SERVICE_ACCOUNT = "churnops-pipeline-runner"
TRAINING_FUNCTION = "training"  # the pipelines.PIPELINES key whose parameters core.parameters checks
PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "String": (str,),
    "Integer": (int,),
    "Float": (int, float),
    "Boolean": (bool,),
    "Dict": (dict,),
    "Struct": (dict,),
    "List": (list,),
}


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str = ""


@dataclass(frozen=True)
class PipelineDecl:
    name: str  # the KFP pipeline's display name
    function: str  # a key of pipelines.PIPELINES
    description: str = ""


@dataclass(frozen=True)
class RecurringRunDecl:
    name: str
    pipeline: str
    experiment: str
    cron: str | None
    interval_seconds: int | None
    start_time: str | None
    end_time: str | None
    max_concurrency: int
    catchup: bool
    enabled: bool
    service_account: str
    parameters: dict[str, Any]
    description: str = ""
    pipeline_root: str | None = None


@dataclass(frozen=True)
class SchedulesConfig:
    path: Path
    scope: str
    platform: Path | None
    experiments: tuple[Experiment, ...]
    pipelines: tuple[PipelineDecl, ...]
    recurring_runs: tuple[RecurringRunDecl, ...] = field(default_factory=tuple)

    def pipeline(self, name: str) -> PipelineDecl:
        return next(p for p in self.pipelines if p.name == name)


def read_document(path: Path) -> Any:
    """The parsed YAML, or ConfigError when the file is missing or not YAML."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", "", "file not found; check --config")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), "", "", f"not valid YAML: {exc}")]) from None


def load_config(path: Path, pipelines: Mapping[str, Any] | None = None) -> SchedulesConfig:
    """Read and validate a schedules file; raise ConfigError listing every problem."""
    if pipelines is None:
        pipelines = PIPELINES
    problems: list[Problem] = []
    config = validate(read_document(path), Path(path), pipelines, problems)
    if config.platform is not None and config.platform.is_file():
        try:
            validate_platform(read_platform_document(config.platform), str(config.platform),
                              set(components.__all__), problems)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return config


def validate(document: Any, path: Path, pipelines: Mapping[str, Any], problems: list[Problem]) -> SchedulesConfig:
    """Check the whole document; append every problem found; return what could be read."""
    source = str(path)

    def bad(entry: str, field_name: str, message: str) -> None:
        problems.append(Problem(source, entry, field_name, message))

    if document is None:
        document = {}
    if not isinstance(document, dict):
        bad("", "", f"must be a mapping with keys {', '.join(TOP_KEYS)}")
        return SchedulesConfig(path, "", None, (), (), ())
    _unknown_keys(document, TOP_KEYS, "", bad)

    scope = document.get("scope")
    if not isinstance(scope, str) or not SCOPE.match(scope):
        bad("", "scope", "required: a short name for this file's objects (e.g. `scope: prod`); "
                         "sync only ever changes recurring runs marked with its own scope")
        scope = ""
    platform = None
    if document.get("platform") is not None:
        if not isinstance(document["platform"], str):
            bad("", "platform", "must be a path to a platform file, relative to this file")
        else:
            platform = (path.parent / document["platform"]).resolve()
            if not platform.is_file():
                bad("", "platform", f"{document['platform']} not found (looked at {platform})")

    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        bad("defaults", "", "must be a mapping")
        defaults = {}
    _unknown_keys(defaults, DEFAULT_KEYS, "defaults", bad)

    experiments = tuple(_experiments(_section(document, "experiments", bad), bad))
    pipeline_decls = tuple(_pipelines(_section(document, "pipelines", bad), pipelines, bad))
    runs = tuple(_runs(_section(document, "recurring_runs", bad), defaults, experiments, pipeline_decls,
                       pipelines, bad))
    room = room_for_description(scope)
    positions = {item.get("name"): i for i, item in enumerate(document.get("recurring_runs") or [])
                 if isinstance(item, dict)}
    for run in runs:
        if len(run.description.strip()) > room:
            bad(entry_label("recurring_runs", positions[run.name], {"name": run.name}), "description",
                f"{len(run.description.strip())} characters; KFP stores {MAX_DESCRIPTION} (MySQL VARCHAR) and the "
                f"sync's marker takes the rest: shorten it to at most {room}")
    for index, experiment in enumerate(experiments):
        if len(experiment.description) > MAX_DESCRIPTION:
            bad(entry_label("experiments", index, {"name": experiment.name}), "description",
                f"{len(experiment.description)} characters; KFP stores at most {MAX_DESCRIPTION}: shorten it")
    return SchedulesConfig(path, scope, platform, experiments, pipeline_decls, runs)


def _section(document: dict, key: str, bad) -> list:
    value = document.get(key) or []
    if not isinstance(value, list):
        bad(key, "", "must be a list of entries (each starting with `- name: ...`)")
        return []
    return value


def _unknown_keys(item: dict, allowed: tuple[str, ...], entry: str, bad) -> None:
    for key in item:
        if key not in allowed:
            bad(entry, str(key), f"unknown key; allowed: {', '.join(allowed)}")


def _names(items: list, section: str, bad, pattern: re.Pattern | None = None):
    """Yield (label, item) for each well-formed entry, reporting bad and duplicate names."""
    seen: set[str] = set()
    for index, item in enumerate(items):
        label = entry_label(section, index, item)
        if not isinstance(item, dict):
            bad(label, "", "must be a mapping")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            bad(label, "name", "required")
            continue
        if pattern is not None and not pattern.match(name):
            bad(label, "name", "must be lowercase letters, digits and '-', at most 63 characters")
        if name in seen:
            bad(label, "name", f"duplicate: another entry in {section} is named {name!r}")
            continue
        seen.add(name)
        yield label, item


def _experiments(items: list, bad):
    for label, item in _names(items, "experiments", bad):
        _unknown_keys(item, EXPERIMENT_KEYS, label, bad)
        yield Experiment(item["name"], str(item.get("description") or ""))


def _pipelines(items: list, registry: Mapping[str, Any], bad):
    for label, item in _names(items, "pipelines", bad):
        _unknown_keys(item, PIPELINE_KEYS, label, bad)
        function = item.get("function")
        if function not in registry:
            bad(label, "function", f"unknown pipeline {function!r}; known: {', '.join(sorted(registry))} "
                                   "(pipelines.PIPELINES)")
            continue
        yield PipelineDecl(item["name"], function, str(item.get("description") or ""))


def _runs(items: list, defaults: dict, experiments, pipeline_decls, registry, bad):
    experiment_names = {e.name for e in experiments}
    declared = {p.name: p for p in pipeline_decls}
    for label, item in _names(items, "recurring_runs", bad, NAME):
        _unknown_keys(item, RUN_KEYS, label, bad)
        merged = {**{k: v for k, v in defaults.items() if k != "parameters"}, **item}
        merged["parameters"] = {**(defaults.get("parameters") or {}), **(item.get("parameters") or {})}
        ok = True

        def fail(field_name: str, message: str, label: str = label) -> None:  # bound now, called in this pass
            nonlocal ok
            ok = False
            bad(label, field_name, message)

        pipeline = merged.get("pipeline")
        if pipeline not in declared:
            fail("pipeline", f"{pipeline!r} is not declared under pipelines; declared: "
                             f"{', '.join(sorted(declared)) or 'none'}")
        experiment = merged.get("experiment")
        if experiment not in experiment_names:
            fail("experiment", f"{experiment!r} is not declared under experiments (or set defaults.experiment); "
                               f"declared: {', '.join(sorted(experiment_names)) or 'none'}")
        cron, interval = merged.get("cron"), merged.get("interval_seconds")
        if (cron is None) == (interval is None):
            fail("cron", "set exactly one of `cron` (6 fields, seconds first) or `interval_seconds`")
        elif cron is not None:
            problem = cron_problem(cron) if isinstance(cron, str) else "must be a string (quote it)"
            if problem:
                fail("cron", problem)
        elif isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            fail("interval_seconds", "must be a whole number of seconds >= 1")
        times = {}
        for key in ("start_time", "end_time"):
            value = merged.get(key)
            if value is None:
                continue
            parsed = _timestamp(value)
            if parsed is None:
                fail(key, f"{value!r} is not an RFC 3339 time with a zone (e.g. 2026-01-05T03:00:00Z; quote it)")
            times[key] = parsed
        if len(times) == 2 and times["end_time"] <= times["start_time"]:
            fail("end_time", "must be after start_time")
        concurrency = merged.get("max_concurrency", 1)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
            fail("max_concurrency", f"must be a whole number from 1 to {MAX_CONCURRENCY} (the KFP API's limit)")
        for key in ("catchup", "enabled"):
            if key in merged and not isinstance(merged[key], bool):
                fail(key, "must be true or false")
        root = merged.get("pipeline_root")
        if root is not None and (not isinstance(root, str) or not PIPELINE_ROOT.match(root)):
            fail("pipeline_root", f"{root!r} is not an object-store URI KFP writes artifacts to: gs://BUCKET/PATH, "
                                  "s3://BUCKET/PATH or minio://BUCKET/PATH")
        account = merged.get("service_account", DEFAULT_SERVICE_ACCOUNT)
        if not isinstance(account, str) or not K8S_NAME.match(account):
            fail("service_account", "must be a Kubernetes ServiceAccount name")
        if "description" in item and not isinstance(item["description"], str):
            fail("description", "must be a string")
        parameters = merged["parameters"]
        if not isinstance(parameters, dict):
            fail("parameters", "must map parameter names to values")
        elif pipeline in declared:
            for message in parameter_problems(registry[declared[pipeline].function], parameters):
                fail("parameters", message)
            if declared[pipeline].function == TRAINING_FUNCTION:
                # The rules `churnops train` and the pipeline's steps apply (ConfigMap refs are
                # resolved on the cluster and checked there).
                literal = {k: v for k, v in parameters.items() if config_map_ref(v) is None}
                for message in training_parameter_problems(literal):
                    fail("parameters", message)
            if isinstance(parameters.get("output_uri"), str):
                try:  # a KFP v1 macro here would name every run's predictions the same (issue 23)
                    run_time.check_template(parameters["output_uri"])
                except ChurnopsError as exc:
                    fail("parameters", str(exc))
        if ok:
            yield RecurringRunDecl(
                name=item["name"],
                pipeline=pipeline,
                experiment=experiment,
                cron=cron.strip() if isinstance(cron, str) else None,
                interval_seconds=interval,
                start_time=_rfc3339(times.get("start_time")),
                end_time=_rfc3339(times.get("end_time")),
                max_concurrency=concurrency,
                catchup=merged.get("catchup", False),
                enabled=merged.get("enabled", True),
                service_account=account,
                parameters=dict(parameters),
                description=str(item.get("description") or ""),
                pipeline_root=root,
            )


def config_map_ref(value: Any) -> dict[str, str] | None:
    """`{valueFrom: {configMapKeyRef: {name, key[, namespace]}}}` -> the inner mapping, else None."""
    if isinstance(value, dict) and set(value) == {"valueFrom"} and isinstance(value["valueFrom"], dict):
        ref = value["valueFrom"].get("configMapKeyRef")
        if isinstance(ref, dict):
            return ref
    return None


def _ref_problem(name: str, ref: dict, spec_type: str) -> str | None:
    if not isinstance(ref.get("name"), str) or not isinstance(ref.get("key"), str) or \
            set(ref) - {"name", "key", "namespace"}:
        return f"{name!r}: configMapKeyRef takes name, key and optionally namespace"
    if spec_type != "String":
        return f"{name!r} is {spec_type}; only String parameters can come from a ConfigMap"
    return None


def parameter_problems(pipeline: Any, parameters: dict[str, Any]) -> list[str]:
    """Undeclared, missing required, and wrongly typed parameters of one pipeline."""
    inputs = pipeline.component_spec.inputs or {}
    problems = []
    for name, value in parameters.items():
        spec = inputs.get(name)
        if spec is None:
            problems.append(f"{name!r} is not a parameter of pipeline {pipeline.name!r}; "
                            f"it takes: {', '.join(sorted(inputs)) or 'none'}")
            continue
        expected = PARAMETER_TYPES.get(str(spec.type))
        ref = config_map_ref(value)
        if ref is not None:
            if problem := _ref_problem(name, ref, str(spec.type)):
                problems.append(problem)
        elif expected is None:
            problems.append(f"{name!r} is an artifact input ({spec.type}); a schedule can only set parameters")
        elif isinstance(value, bool) and bool not in expected or not isinstance(value, expected):
            problems.append(f"{name!r} must be {spec.type}, got {type(value).__name__} {value!r}")
    for name, spec in inputs.items():
        if name not in parameters and not spec.optional and spec.default is None:
            problems.append(f"{name!r} is required by pipeline {pipeline.name!r} and has no default: set it")
    return problems


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):  # YAML reads unquoted timestamps itself
        return value if value.tzinfo is not None else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    from datetime import timezone

    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
