"""Apply a per-environment platform config (kfp-kubernetes) to every task of a pipeline.

The pipeline files stay free of cluster details, and no pipeline needs a line for this:
`with_platform(pipeline, settings_for)` rebuilds the pipeline from its Python function and, after
the function body has created its tasks (including tasks inside ParallelFor / Condition /
ExitHandler groups, and tasks added by later changes), applies the settings of its component to
each one (`settings_for(component_name)`, e.g. `PlatformConfig.for_step` from
churnops.app.platform_config, which reads and validates config/platform/<env>.yaml). The result
compiles like any pipeline; the original object is not changed, so the
local runner (`churnops train`), which ignores kfp-kubernetes settings anyway, keeps using the
plain pipeline and runs without platform warnings.

Not covered: tasks inside a nested *pipeline* used as a component (they were built when that
pipeline was defined); apply the config to it separately if we ever nest pipelines.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Callable

from kfp import dsl, kubernetes

# KFP internals relied on (kfp 2.17.3; tests/pipelines/test_platform.py fails if they change):
# - pipeline_context.Pipeline.get_default_pipeline(): the pipeline being built while a pipeline
#   function runs; its `.tasks` holds every task created so far, in groups too.
# - GraphComponent(component_spec, pipeline_func, display_name, pipeline_config): what
#   @dsl.pipeline builds; constructing one runs `pipeline_func` to build the graph.
# - PipelineTask.component_spec.name: the component's name (our file/function name).
# - PipelineTask.inputs: the dict of arguments the compiler reads when it builds the task's spec.
from kfp.dsl import pipeline_context
from kfp.dsl.graph_component import GraphComponent
from kfp.dsl.pipeline_task import PipelineTask

from churnops import cpus

CPUS_ENV = cpus.ENV_CPUS
CACHING_DEFAULT = False


def no_platform(component_name: str) -> dict[str, Any]:
    """The settings of a compile without a platform config: none, so only the defaults (caching off)."""
    return {}


def whole_cpus(quantity: str | int | float) -> int:
    """A Kubernetes CPU quantity ("250m", "2", 1.5) as whole cores, rounded up, at least 1."""
    text = str(quantity).strip()
    cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return max(1, -int(-cores // 1))


def apply_to_task(task: PipelineTask, settings: dict[str, Any]) -> PipelineTask:
    """Set one task's kfp-kubernetes config, resources, retries, caching and timeout."""
    for secret, keys in settings.get("secrets_as_env", {}).items():
        kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env=keys)
    for config_map, keys in settings.get("config_maps_as_env", {}).items():
        kubernetes.use_config_map_as_env(task, config_map_name=config_map, config_map_key_to_env=keys)
    if settings.get("image_pull_secrets"):
        kubernetes.set_image_pull_secrets(task, settings["image_pull_secrets"])
    if "image_pull_policy" in settings:
        kubernetes.set_image_pull_policy(task, settings["image_pull_policy"])
    for key, value in settings.get("node_selector", {}).items():
        kubernetes.add_node_selector(task, label_key=key, label_value=value)
    for toleration in settings.get("tolerations", []):
        kubernetes.add_toleration(task, **toleration)
    for key, value in settings.get("pod_labels", {}).items():
        kubernetes.add_pod_label(task, label_key=key, label_value=value)
    for key, value in settings.get("pod_annotations", {}).items():
        kubernetes.add_pod_annotation(task, annotation_key=key, annotation_value=value)
    if settings.get("timeout_seconds"):
        kubernetes.set_timeout(task, settings["timeout_seconds"])
    resources = settings.get("resources", {})
    if "cpu_request" in resources:  # the cores the step sizes its thread pools by (churnops.cpus)
        task.set_env_variable(CPUS_ENV, str(whole_cpus(resources["cpu_request"])))
    for key, setter in (("cpu_request", task.set_cpu_request), ("cpu_limit", task.set_cpu_limit),
                        ("memory_request", task.set_memory_request), ("memory_limit", task.set_memory_limit)):
        if key in resources:
            setter(resources[key])
    retries = settings.get("retries")
    if retries and retries.get("count"):
        task.set_retry(
            num_retries=retries["count"],
            backoff_duration=retries.get("backoff"),
            backoff_factor=retries.get("factor"),
            backoff_max_duration=retries.get("max_backoff"),
        )
    # Off unless the platform config turns it on for a step: KFP's cache key is the inputs' URI
    # strings, never the file's content (kfp backend cacheutils/cache.go GenerateCacheKey, issue 23),
    # so a cached load or resolve step retrains on last week's data or scores with the old champion.
    task.set_caching_options(enable_caching=settings.get("caching", CACHING_DEFAULT))
    return task


def with_platform(pipeline: GraphComponent, settings_for: Callable[[str], dict[str, Any]]) -> GraphComponent:
    """A copy of `pipeline` whose every task carries `settings_for(<its component's name>)`."""
    return map_tasks(pipeline, lambda task: apply_to_task(task, settings_for(task.component_spec.name)))


# Placeholders only a cluster's KFP driver fills. kfp 2.17.3's local runner fails on them as a task
# input: kfp/local/placeholder_utils.py resolve_io_placeholders takes `{{$.pipeline_job_schedule_time_utc}}`
# for an input/output path and convert_placeholder_parts_to_path raises IndexError.
CLUSTER_ONLY_PLACEHOLDERS = (dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER, dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER)


def for_local_runner(pipeline: GraphComponent) -> GraphComponent:
    """A copy of `pipeline` with every cluster-only placeholder input left empty ("": the step then
    uses what a local run provides, e.g. churnops.core.run_time's run start time)."""

    def clear(task: PipelineTask) -> None:
        for name, value in task.inputs.items():
            if isinstance(value, str) and value in CLUSTER_ONLY_PLACEHOLDERS:
                task.inputs[name] = ""

    return map_tasks(pipeline, clear)


def map_tasks(pipeline: GraphComponent, change: Callable[[PipelineTask], Any]) -> GraphComponent:
    """A copy of `pipeline` rebuilt from its function, `change(task)` applied to every task it creates."""
    body = pipeline.pipeline_func

    @functools.wraps(body)  # keeps the signature, annotations and defaults KFP reads
    def configured(*args: Any, **kwargs: Any) -> Any:
        outputs = body(*args, **kwargs)
        for task in pipeline_context.Pipeline.get_default_pipeline().tasks.values():
            change(task)
        return outputs

    info = pipeline.pipeline_spec.pipeline_info
    return GraphComponent(
        component_spec=copy.deepcopy(pipeline.component_spec),
        pipeline_func=configured,
        display_name=info.display_name or None,
        pipeline_config=pipeline.pipeline_config,
    )
