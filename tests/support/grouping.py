"""One worker per test module under `pytest -n N --dist loadgroup` (make test): a module's fixtures are
built once, and a module written as a scenario (tests/e2e/test_governed_promotion.py: train, approve,
guard, card) runs in order on one worker. A package whose fixture must be built once per run is one
group (PACKAGES): tests/integration (the topology of three mlflow servers) and tests/cluster (one
control plane in the run's folder: split over two workers, each started its own there and the second
took the first's kubeconfig away mid-test, seen in .ci/run). A test's own xdist_group mark wins.

pytest-xdist 3.8.0 reads the marks into `item._nodeid`; pytest 9.2 builds `nodeid` from `_id` instead, so
under 9.2 every module was spread over both workers (pyproject pins 9.1.1; test_grouping checks it).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

PACKAGES = ("integration", "cluster")  # folders directly under tests/


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the marks into the node ids
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        item.add_marker(pytest.mark.xdist_group(group_of(Path(str(item.fspath)))))


def group_of(path: Path) -> str:
    """tests/<package> for a test anywhere under one of PACKAGES, else the module's path."""
    for above, folder in pairwise(path.parts):
        if above == "tests" and folder in PACKAGES:
            return f"tests/{folder}"
    return str(path)
