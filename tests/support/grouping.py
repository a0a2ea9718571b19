"""One worker per test module under `pytest -n 2 --dist loadgroup` (make test): a module's fixtures are
built once, and a module written as a scenario (tests/e2e/test_governed_promotion.py: train, approve,
guard, card) runs in order on one worker. A package whose fixture is package-scoped (tests/integration:
the topology of three mlflow servers) is one group. A test's own xdist_group mark wins.

pytest-xdist 3.8.0 reads the marks into `item._nodeid`; pytest 9.2 builds `nodeid` from `_id` instead, so
under 9.2 every module was spread over both workers (pyproject pins 9.1.1; test_grouping checks it).
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the marks into the node ids
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = Path(str(item.fspath))
        group = "tests/integration" if "integration" in path.parts and path.parent.name == "integration" else path
        item.add_marker(pytest.mark.xdist_group(str(group)))
