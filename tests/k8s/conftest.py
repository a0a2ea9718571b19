"""Fixtures for the Kubernetes bundle tests (marker `k8s`, added to every test in this folder).

They use the real kubectl/helm in .tools/bin and checkov in .tools/checkov (`make tools`, which
`make test` runs). A missing tool is an error, not a skip: a green run means the checks ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from k8s_helpers import build, validate
from support.environments import ENVIRONMENTS


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.k8s)


@pytest.fixture(scope="session", autouse=True)
def tools():
    missing = [str(t) for t in (validate.KUBECTL, validate.HELM, validate.CHECKOV) if not t.exists()]
    if missing:
        pytest.fail(f"missing tools {missing}: run `make tools` (make test does)")


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[dict]]:
    """{environment: the objects of k8s/overlays/<environment>} for every environment."""
    return {env: build(f"k8s/overlays/{env}") for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def every_overlay(overlays) -> list[dict]:
    return [obj for objects in overlays.values() for obj in objects]


@pytest.fixture(scope="session")
def dev(overlays) -> list[dict]:
    return overlays["dev"]


@pytest.fixture(scope="session")
def prod(overlays) -> list[dict]:
    return overlays["prod"]


@pytest.fixture(scope="session")
def crd_schemas() -> dict:
    return validate.load_crd_schemas()


@pytest.fixture(scope="session")
def external() -> dict:
    """{render name: its entries of k8s/external-resources.yaml} (the keys there may be globs)."""
    listed = yaml.safe_load(validate.EXTERNAL.read_text())
    names = [validate.relative(t) for t in validate.kustomize_targets()]
    return {name: validate.external_for(name, listed) for name in names}
