"""Every pipeline compiles to KFP YAML, byte-for-byte reproducibly, with pinned images."""

from __future__ import annotations

import re

import pytest
import yaml

from churnops.app.compile import compile_all
from churnops.core.search_space import DEFAULT_SEARCH_SPACE
from pipelines import PIPELINES


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    first = compile_all(tmp_path_factory.mktemp("first"))
    second = compile_all(tmp_path_factory.mktemp("second"))
    return first, second


def test_every_pipeline_compiles_deterministically(compiled):
    first, second = compiled
    assert [path.name for path in first] == [f"{name}.yaml" for name in PIPELINES]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two compilations"


def test_images_are_pinned_and_no_step_installs_packages(compiled):
    for path in compiled[0]:
        text = path.read_text()
        images = re.findall(r"image: (\S+)", text)
        assert images, path.name
        for image in images:
            assert ":" in image and not image.endswith(":latest"), image
        assert "pip install" not in text, f"{path.name}: a step would pip-install at run time"


def test_training_defaults_are_the_cluster_parameters(compiled):
    spec = yaml.safe_load(next(p for p in compiled[0] if p.name == "training.yaml").read_text())
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["dataset_uri"]["defaultValue"].startswith("gs://")
    assert parameters["mlflow_tracking_uri"]["defaultValue"] == "http://mlflow.mlflow.svc.cluster.local:5000"
    assert parameters["test_size_ratio"]["defaultValue"] == 0.2
    assert parameters["model_name"]["defaultValue"] == "churn-classifier"
    # Default mode: the candidate search over the default space (single model: model_type NAME).
    assert parameters["model_type"]["defaultValue"] == "auto"
    assert parameters["hyperparameters"]["defaultValue"] == {}
    assert parameters["search_space"]["defaultValue"] == DEFAULT_SEARCH_SPACE


def _tasks(spec: dict) -> dict[str, dict]:
    """Every task of a compiled spec, the root DAG's and every sub-DAG's (ParallelFor, If, exit handler)."""
    found = dict(spec["root"]["dag"]["tasks"])
    for component in spec["components"].values():
        found.update(component.get("dag", {}).get("tasks", {}))
    return found


def test_without_a_platform_config_no_task_caches(compiled):
    """Issue 23: `churnops compile` without --platform left enableCache: true on every task, so a
    pipeline uploaded by hand retrained on the first split (KFP keys its cache by the input URI
    strings, never the file's content) and scoring kept the old champion after a promotion."""
    for path in compiled[0]:
        spec = yaml.safe_load(path.read_text())
        tasks = _tasks(spec)
        assert tasks, path.name
        cached = [name for name, task in tasks.items() if task.get("cachingOptions", {}).get("enableCache")]
        assert cached == [], f"{path.name}: caching on for {cached}"


def test_the_sync_compiles_without_a_platform_file_with_caching_off(tmp_path):
    from churnops.schedules.compiled import compile_declared
    from churnops.schedules.config import load_config

    config = tmp_path / "schedules.yaml"
    config.write_text(yaml.safe_dump({
        "scope": "test", "defaults": {"experiment": "churn"}, "experiments": [{"name": "churn"}],
        "pipelines": [{"name": "churn-training", "function": "training"}], "recurring_runs": [],
    }))
    (compiled,) = compile_declared(load_config(config), tmp_path / "out").values()
    tasks = _tasks(yaml.safe_load(compiled.path.read_text()))
    assert not [name for name, task in tasks.items() if task.get("cachingOptions", {}).get("enableCache")]


@pytest.mark.parametrize(("pipeline", "tasks"), [("inference", ["publish-predictions"]),
                                                 ("sharded_inference", ["plan-shards", "write-manifest"])])
def test_the_publishing_steps_get_the_schedule_time_the_kfp_driver_fills(compiled, pipeline, tasks):
    """KFP 2.17's v2 driver replaces `{{$.pipeline_job_schedule_time_utc}}` only in a task input whose
    whole value is that constant (backend/src/v2/driver/resolve.go, read at the 2.17.0 tag); the
    step turns it into the `{scheduled_time}` of output_uri (churnops.core.run_time)."""
    from churnops.core.run_time import KFP_PLACEHOLDER

    spec = yaml.safe_load(next(p for p in compiled[0] if p.name == f"{pipeline}.yaml").read_text())
    found = _tasks(spec)
    for name in tasks:
        value = found[name]["inputs"]["parameters"]["scheduled_time"]
        assert value == {"runtimeValue": {"constant": KFP_PLACEHOLDER}}, (name, value)
