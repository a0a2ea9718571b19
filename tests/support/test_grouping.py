"""`make test`'s distribution keeps each test module on one worker (tests/support/grouping.py), seen
from a nested `pytest -n 2 --dist loadgroup` run of two small modules that record their workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support.paths import REPO

MODULE = """
import json, os, pathlib

def record(name):
    out = pathlib.Path(os.environ["OUT"]) / f"{__name__}-{name}.json"
    out.write_text(json.dumps(os.environ["PYTEST_XDIST_WORKER"]))
""" + "".join(f"\ndef test_{n}():\n    record({n})\n" for n in range(8))


def test_every_module_runs_on_one_worker(tmp_path):
    for name in ("test_first.py", "test_second.py"):
        (tmp_path / name).write_text(MODULE)
    out = tmp_path / "out"
    out.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environ.update({"PYTHONPATH": f"{REPO / 'tests'}:{REPO}", "OUT": str(out)})
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p",
                           "support.grouping", "-p", "no:cacheprovider", "-p", "no:randomly", "test_first.py",
                           "test_second.py"], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    workers: dict[str, set[str]] = {}
    for path in out.iterdir():
        workers.setdefault(path.name.split("-")[0], set()).add(json.loads(path.read_text()))
    assert sorted(workers) == ["test_first", "test_second"]
    assert all(len(used) == 1 for used in workers.values()), workers  # 9.2 + xdist 3.8.0 spread them


GROUPS = """
import json, os

def pytest_collection_finish(session):
    with open(os.environ["OUT"], "w") as out:
        json.dump({item.nodeid: item.get_closest_marker("xdist_group").args[0] for item in session.items}, out)
"""


def test_a_package_built_once_per_run_is_one_group(tmp_path):
    """The suite's own collection: all of tests/cluster on one worker (two workers each started a control
    plane in the run's folder), all of tests/integration on one, any other module on its own."""
    (tmp_path / "record_groups.py").write_text(GROUPS)
    out = tmp_path / "groups.json"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environ.update({"PYTHONPATH": f"{tmp_path}:{REPO / 'tests'}:{REPO}", "OUT": str(out)})
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "record_groups",
                           "-p", "no:cacheprovider", "tests/cluster", "tests/integration",
                           "tests/support/test_grouping.py"], cwd=REPO, env=environ, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    groups: dict[str, set[str]] = {}
    for nodeid, group in json.loads(out.read_text()).items():
        module = nodeid.split("::")[0]
        folder = module.rsplit("/", 1)[0]
        groups.setdefault(folder if folder in ("tests/cluster", "tests/integration") else module, set()).add(group)
    assert groups["tests/cluster"] == {"tests/cluster"}, groups["tests/cluster"]
    assert groups["tests/integration"] == {"tests/integration"}
    assert len(groups["tests/support/test_grouping.py"]) == 1
    assert groups["tests/support/test_grouping.py"] != {"tests/cluster"}
