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
