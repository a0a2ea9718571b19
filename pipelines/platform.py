"""Apply a per-environment platform config (kfp-kubernetes) to every task of a pipeline.

The pipeline files stay free of cluster details, and no pipeline needs a line for this:
`with_platform(pipeline, config)` rebuilds the pipeline from its Python function and, after
the function body has created its tasks (including tasks inside ParallelFor / Condition /
ExitHandler groups, and tasks added by later changes), applies `config.for_step(component)` to
each one. The result compiles like any pipeline; the original object is not changed, so the
local runner (`churnops train`), which ignores kfp-kubernetes settings anyway, keeps using the
plain pipeline and runs without platform warnings.

Not covered: tasks inside a nested *pipeline* used as a component (they were built when that
pipeline was defined); apply the config to it separately if we ever nest pipelines.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from kfp import kubernetes
from kfp.dsl import pipeline_context
from kfp.dsl.graph_component import GraphComponent
from kfp.dsl.pipeline_task import PipelineTask

from churnops.platform_config import PlatformConfig


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
    if "caching" in settings:
        task.set_caching_options(enable_caching=settings["caching"])
    return task


def with_platform(pipeline: GraphComponent, config: PlatformConfig) -> GraphComponent:
    """A copy of `pipeline` whose every task carries the platform settings of its component."""
    body = pipeline.pipeline_func

    @functools.wraps(body)  # keeps the signature, annotations and defaults KFP reads
    def configured(*args: Any, **kwargs: Any) -> Any:
        outputs = body(*args, **kwargs)
        for task in pipeline_context.Pipeline.get_default_pipeline().tasks.values():
            apply_to_task(task, config.for_step(task.component_spec.name))
        return outputs

    info = pipeline.pipeline_spec.pipeline_info
    return GraphComponent(
        component_spec=copy.deepcopy(pipeline.component_spec),
        pipeline_func=configured,
        display_name=info.display_name or None,
        pipeline_config=pipeline.pipeline_config,
    )
