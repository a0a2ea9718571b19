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
