"""The platform config reaches every task of the compiled pipeline YAML, and only the copy for the cluster."""

# No `from __future__ import annotations`: KFP reads the real annotations of the pipeline below.
import builtins
from pathlib import Path

import pytest
import yaml
from kfp import compiler, dsl
from support.paths import REPO

import components
from churnops.app.platform_config import PlatformConfig, load_platform_config
from pipelines import PIPELINES
from pipelines.platform import with_platform


def compile_to_docs(pipeline, path: Path) -> tuple[dict, dict]:
    compiler.Compiler().compile(pipeline, str(path))
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    return documents[0], (documents[1] if len(documents) > 1 else {})


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    config = load_platform_config(REPO / "config" / "platform" / "prod.yaml", components.__all__)
    return compile_to_docs(with_platform(PIPELINES["training"], config.for_step), tmp_path_factory.mktemp("prod") / "t.yaml")


def test_every_step_gets_the_secrets_node_selector_tolerations_and_labels(prod):
    spec, platform = prod
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert sorted(executors) == sorted(spec["deploymentSpec"]["executors"])
    for name, spec in executors.items():
        secrets = {s["secretName"]: [k["envVar"] for k in s["keyToEnv"]] for s in spec["secretAsEnv"]}
        assert secrets == {
            "churnops-mlflow": ["MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"],
        }, name
        assert spec["configMapAsEnv"][0]["configMapName"] == "churnops-config"
        assert spec["nodeSelector"] == {"labels": {"churnops.io/pool": "cpu-training"}}
        assert spec["tolerations"] == [{"key": "churnops.io/pool", "operator": "Equal", "value": "cpu-training",
                                        "effect": "NoSchedule"}]
        assert spec["podMetadata"]["labels"]["app.kubernetes.io/part-of"] == "churnops"
        assert [s["secretName"] for s in spec["imagePullSecret"]] == ["churnops-registry"]
        assert spec["activeDeadlineSeconds"] == "7200"


def test_step_overrides_set_resources_and_retries_per_component(prod):
    spec, _ = prod
    executors = spec["deploymentSpec"]["executors"]
    assert executors["exec-train-model"]["container"]["resources"]["resourceCpuLimit"] == "4"
    assert executors["exec-train-model"]["container"]["resources"]["resourceMemoryLimit"] == "8Gi"
    assert executors["exec-evaluate-model"]["container"]["resources"]["resourceCpuLimit"] == "2"
    # The cores a step sizes its thread pools by: its cpu_request rounded up (churnops.cpus).
    cpus = {name: {env["name"]: env["value"] for env in executor["container"].get("env", [])}.get("CHURNOPS_CPUS")
            for name, executor in executors.items()}
    assert cpus["exec-train-model"] == "2" and cpus["exec-score-model-family"] == "2"
    assert cpus["exec-evaluate-model"] == "1"  # 500m
    # Every DAG's tasks: the steps sit in the exit handler's DAG, the exit task in the root.
    tasks = {name: task for dag in [spec["root"]["dag"], *(c["dag"] for c in spec["components"].values() if "dag" in c)]
             for name, task in dag["tasks"].items()}
    assert "end-orphaned-runs" in spec["root"]["dag"]["tasks"]
    assert "retryPolicy" not in tasks["register-model"], "registering twice would create two versions"
    assert "retryPolicy" not in tasks["promote-model"], "a retried alias move would refuse as a conflict"
    assert tasks["train-model"]["retryPolicy"]["maxRetryCount"] == 2
    # Every step, also those inside the search's dsl.If / ParallelFor (their own DAGs); the
    # branch and loop groups themselves carry no caching options.
    components = spec["components"]
    steps = {name: task for dag in [spec["root"]["dag"], *(c["dag"] for c in components.values() if "dag" in c)]
             for name, task in dag["tasks"].items() if "executorLabel" in components[task["componentRef"]["name"]]}
    assert {"train-model", "score-model-family", "single-model"} <= set(steps)
    assert all(not task.get("cachingOptions", {}).get("enableCache") for task in steps.values())


def test_the_plain_pipeline_used_by_local_runs_is_left_without_platform_settings(prod, tmp_path):
    spec, platform = compile_to_docs(PIPELINES["training"], tmp_path / "plain.yaml")

    assert platform == {}
    assert "resources" not in spec["deploymentSpec"]["executors"]["exec-train-model"]["container"]


@dsl.component(base_image="python:3.11-slim", install_kfp_package=False)
def _echo(number: int) -> int:
    return number


@dsl.pipeline(name="nested")
def _nested(count: int = 1) -> int:
    first = _echo(number=count)
    with dsl.ParallelFor([1, 2]) as item:
        with dsl.If(count > 0):
            _echo(number=item)
    return first.output


def test_tasks_inside_parallel_for_and_conditions_are_covered_too(tmp_path):
    config = PlatformConfig(defaults={"node_selector": {"pool": "cpu"}})

    _, platform = compile_to_docs(with_platform(_nested, config.for_step), tmp_path / "nested.yaml")

    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert sorted(executors) == ["exec-echo", "exec-echo-2"]
    assert all(spec["nodeSelector"] == {"labels": {"pool": "cpu"}} for spec in executors.values())


def test_compiling_with_a_platform_is_deterministic(prod, tmp_path):
    config = load_platform_config(REPO / "config" / "platform" / "prod.yaml", components.__all__)
    path = tmp_path / "again.yaml"
    again = compile_to_docs(with_platform(PIPELINES["training"], config.for_step), path)

    assert again == prod


def test_churnops_compile_with_a_platform_file_writes_the_platform_spec(tmp_path, capsys):
    from churnops.app.cli import main

    assert main(["compile", "--output-dir", str(tmp_path), "--platform", str(REPO / "config" / "platform" / "dev.yaml")]) == 0
    _, platform = yaml.safe_load_all((tmp_path / "training.yaml").read_text(encoding="utf-8"))
    labels = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train-model"]["podMetadata"]
    assert labels["labels"]["churnops.io/environment"] == "dev"


def test_the_local_runner_runs_a_platform_pipeline_and_ignores_the_cluster_settings(tmp_path, recwarn):
    from kfp import local

    config = PlatformConfig(defaults={"node_selector": {"pool": "cpu"}, "secrets_as_env": {"s": {"K": "K"}},
                                      "pod_labels": {"team": "churn"}, "retries": {"count": 1}})
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "outputs"))
    real_print = builtins.print
    try:
        assert with_platform(_nested, config.for_step)(count=3).output == 3
    finally:
        # kfp.local's parallel task threads can leave their indenting print behind (churnops.app.local_runner
        # restores it for every churnops run); this test drives kfp.local itself, so it restores it too:
        # the next test module's captured output started with four spaces (test_bootstrap, serial test-fast).
        builtins.print = real_print
    assert not [w for w in recwarn if "local runner" in str(w.message)], "no platform setting warns locally"
