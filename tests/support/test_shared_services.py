"""The services a test run starts itself (tests/support/shared.py, postgres.py): one PostgreSQL for
every worker, the one the tests use, and nothing of it left once the run ends, ended or killed.

Each case runs a nested `pytest -n 2` on a small test file with the same plugin (`-p support.shared`)
and looks at what it left behind from outside.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.cluster import processes
from support import postgres, shared
from support.paths import REPO

pytestmark = pytest.mark.integration

NESTED = '''
import json, os, pathlib, time
import psycopg

def record(uri, pytestconfig, worker_id, name):
    with psycopg.connect(uri + "/postgres") as connection:
        data_dir = connection.execute("SHOW data_directory").fetchone()[0]
        port = connection.execute("SELECT inet_server_port()").fetchone()[0]
    postmaster = int((pathlib.Path(data_dir) / "postmaster.pid").read_text().split()[0])
    out = pathlib.Path(os.environ["OUT"]) / f"{name}.json"
    out.write_text(json.dumps({"uri": uri, "data_dir": data_dir, "port": port, "pid": postmaster, "worker": worker_id,
                               "run_dir": str(pytestconfig.churnops_run_dir)}))

def test_one(postgres, pytestconfig, worker_id):
    record(postgres, pytestconfig, worker_id, "one")

def test_two(postgres, pytestconfig, worker_id):
    record(postgres, pytestconfig, worker_id, "two")
    if os.environ.get("HANG"):
        time.sleep(120)
'''


def nested(tmp_path: Path, **env: str) -> subprocess.Popen:
    (tmp_path / "test_nested.py").write_text(NESTED)
    (tmp_path / "out").mkdir()
    environ = {k: v for k, v in os.environ.items() if k != shared.POSTGRES_ENV and not k.startswith("PYTEST_")}
    environ.update({"PYTHONPATH": f"{REPO / 'tests'}:{REPO}", "OUT": str(tmp_path / "out"), **env})
    return subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "support.shared", "-p",
                             "no:cacheprovider", "-p", "no:randomly", "test_nested.py"], cwd=tmp_path, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def assert_gone(record: dict) -> None:
    server = postgres.Server(record["pid"], record["port"], record["data_dir"], "", "")
    assert not postgres.is_running(server), f"the run's PostgreSQL (pid {record['pid']}) outlived the run"
    assert refused(record["port"]), f"something still listens on port {record['port']}"
    assert not Path(record["data_dir"]).exists(), "the cluster's data folder was left behind"
    assert not Path(record["run_dir"]).exists(), "the run's shared folder was left behind"


def test_both_workers_use_the_server_the_run_started_and_it_is_stopped_at_the_end(tmp_path):
    run = nested(tmp_path)
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output
    one, two = (json.loads((tmp_path / "out" / f"{name}.json").read_text()) for name in ("one", "two"))
    assert {one["worker"], two["worker"]} <= {"gw0", "gw1"}
    assert (one["uri"], one["pid"], one["data_dir"]) == (two["uri"], two["pid"], two["data_dir"])
    assert one["uri"] == f"postgresql://postgres@127.0.0.1:{one['port']}" and one["port"] != 5432
    assert f"stopped postgres (pid {one['pid']}, port {one['port']})" in output
    assert_gone(one)


def test_a_run_stopped_by_sigterm_still_stops_its_server(tmp_path):
    run = nested(tmp_path, HANG="1")
    record_path = tmp_path / "out" / "two.json"
    deadline = time.monotonic() + 240
    while not record_path.exists():
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()[0]
        time.sleep(0.2)
    record = json.loads(record_path.read_text())
    assert postgres.is_running(postgres.Server(record["pid"], record["port"], record["data_dir"], "", ""))
    run.send_signal(signal.SIGTERM)  # what a CI time-out sends
    output, _ = run.communicate(timeout=120)
    assert_gone(record)
    assert "stopped postgres" in output


def test_a_killed_runs_server_is_swept_by_the_next_run(tmp_path):
    """kill -9 of a run leaves its server; the next run finds the folder's owner gone and stops it."""
    folder = tmp_path / f"{shared.RUN_PREFIX}killed"
    (folder / "services").mkdir(parents=True)
    (folder / shared.OWNER_FILE).write_text("1 0")  # pid 1 never started at tick 0: the owner is gone
    server = shared.postgres_server(folder)
    assert postgres.is_running(server)
    alive = tmp_path / f"{shared.RUN_PREFIX}alive"
    (alive / "services").mkdir(parents=True)
    (alive / shared.OWNER_FILE).write_text(f"{os.getpid()} {processes.start_time(os.getpid())}")
    assert shared.sweep_stale(tmp_path) == [folder]
    assert not postgres.is_running(server) and refused(server.port) and not Path(server.data_dir).exists()
    assert not folder.exists() and alive.exists()
