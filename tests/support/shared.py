"""What the processes of one test run share: pytest's controller and its xdist workers.

- A run folder: made by the controller (or the only process without xdist), handed to each worker
  through xdist's `workerinput`, removed when the run ends.
- Services the run starts once (PostgreSQL): the first worker that needs one starts it under a
  lock on the run folder and records it there (services/<name>.json); the others read the record.
  The controller stops every recorded service when the run ends, whichever worker started it.
- A sweep when a run starts: a folder whose owner (pid and start time) is gone belongs to a run
  that was killed; its services are stopped and the folder removed.
Nothing is assumed to be running before the run, and nothing is left after it.

A pytest plugin (tests/conftest.py loads it; a nested run takes `-p support.shared`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scripts.cluster.processes import start_time
from support import postgres

RUN_PREFIX = "churnops-test-run-"
WORKER_KEY = "churnops_run_dir"
OWNER_FILE = "owner"
POSTGRES_ENV = "CHURNOPS_TEST_POSTGRES"  # a server of the developer's own instead of the run's


def _owner_alive(run_dir: Path) -> bool:
    try:
        pid, started = (run_dir / OWNER_FILE).read_text().split()
    except (OSError, ValueError):
        return False
    return start_time(int(pid)) == started


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stop_services(run_dir: Path) -> list[str]:
    """Stop every service recorded in run_dir; returns what was stopped (for the run's summary)."""
    stopped = []
    for record in sorted((run_dir / "services").glob("*.json")):
        server = postgres.Server.from_json(record.read_text())
        postgres.stop(server)
        stopped.append(f"{record.stem} (pid {server.pid}, port {server.port})")
        record.unlink()
    return stopped


def sweep_stale(temp: Path | None = None) -> list[Path]:
    temp = temp or Path(tempfile.gettempdir())
    swept = []
    for folder in temp.glob(f"{RUN_PREFIX}*"):
        if folder.is_dir() and not _owner_alive(folder):
            stop_services(folder)
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
    return swept


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config) -> None:
    """The controller makes the run folder; a worker takes the controller's."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.churnops_run_dir = Path(workerinput[WORKER_KEY])
        return
    sweep_stale()
    folder = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
    (folder / OWNER_FILE).write_text(f"{os.getpid()} {start_time(os.getpid())}")
    (folder / "services").mkdir()
    config.churnops_run_dir = folder
    # A SIGTERM (a CI time-out, a killed job) unwinds like Ctrl-C, so unconfigure still stops the services.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist, in the controller: every worker gets the run's shared folder."""
    node.workerinput[WORKER_KEY] = str(run_dir(node.config))


def pytest_unconfigure(config) -> None:
    """In the controller: stop what the run started, remove the folder."""
    folder = getattr(config, "churnops_run_dir", None)
    if folder is None or getattr(config, "workerinput", None) is not None:
        return
    stopped = stop_services(folder)
    shutil.rmtree(folder, ignore_errors=True)
    if stopped:
        print(f"\nchurnops tests: stopped {', '.join(stopped)}")


def run_dir(config) -> Path:
    return config.churnops_run_dir


def once(folder: Path, name: str, start: Callable[[Path], postgres.Server]) -> postgres.Server:
    """The run's one `name` service: started by the first caller in any worker, recorded for the rest."""
    record = folder / "services" / f"{name}.json"
    with locked(folder / f"{name}.lock"):
        if record.exists():
            return postgres.Server.from_json(record.read_text())
        server = start(folder)
        record.write_text(server.to_json())
        return server


def postgres_server(folder: Path) -> postgres.Server:
    return once(folder, "postgres", postgres.start)


@pytest.fixture(scope="session", name="postgres")
def postgres_uri(pytestconfig) -> str:
    """A PostgreSQL server URI without a database (trust auth): $CHURNOPS_TEST_POSTGRES, else the one
    this run starts on a free loopback port the first time a test asks (stopped when the run ends)."""
    own = os.environ.get(POSTGRES_ENV)
    if own:
        return own.rstrip("/")
    return postgres_server(run_dir(pytestconfig)).uri
