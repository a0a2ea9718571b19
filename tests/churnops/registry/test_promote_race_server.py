"""Issue 16, Why 4 on the PostgreSQL-backed tracking server: of two concurrent promotes exactly one wins.

One real `mlflow server` (built by churnops.app.mlflow_server, as `churnops mlflow serve` builds
it) on a fresh database on the PostgreSQL server this test run started (fixture `postgres`), dropped afterwards. The race is
tests/support/races.py (two forked CLI invocations per try, through HTTP). The lock is the alias
lease (churnops.registry.locks.lease): without it both report success.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import mlflow
import pytest
from sklearn.dummy import DummyClassifier
from support import races

from churnops.app import mlflow_server
from churnops.registry import locks

pytestmark = pytest.mark.integration

NAME = races.NAME
READY_TIMEOUT = 150.0  # an mlflow server answers /health after 13-45 s on this shared machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, postgres):
    folder = tmp_path_factory.mktemp("race-server")
    database = f"{postgres}/churnops_race_{uuid.uuid4().hex[:10]}"
    mlflow_server.prepare(database)
    config = mlflow_server.ServerConfig(backend_store_uri=database, default_artifact_root=str(folder / "artifacts"),
                                        port=_free_port())
    log = open(folder / "server.log", "w")
    # as `churnops mlflow serve` runs it: without MLflow's job runner (7 huey processes nobody uses here)
    process = subprocess.Popen(mlflow_server.server_command(config), stdout=log, stderr=subprocess.STDOUT,
                               env=mlflow_server.job_execution_env(dict(os.environ)), start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{config.url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"mlflow server not ready in {READY_TIMEOUT}s"
            time.sleep(0.5)
        yield config.url
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=30)
        log.close()
        mlflow_server.drop_database(database)


@pytest.fixture(scope="module")
def store(server):
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    client = mlflow.MlflowClient(tracking_uri=server, registry_uri=server)
    for _ in range(3):
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model",
                                            pip_requirements=["scikit-learn"])
        mlflow.register_model(info.model_uri, NAME)
    yield server, client
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)


def test_of_two_concurrent_promotes_on_the_server_exactly_one_wins(store, capsys):
    uri, client = store
    tally = races.race(uri, client)
    capsys.readouterr()
    with capsys.disabled():
        print(json.dumps({"store": "postgresql mlflow server", **dataclasses.asdict(tally)}))
    assert (tally.winners, tally.refusals, tally.both_won) == (tally.tries, tally.tries, 0)
    with pytest.raises(mlflow.exceptions.MlflowException):  # every lease released
        client.get_registered_model(locks.lease_name(NAME))


def test_a_lease_whose_holder_died_expires_and_is_broken_once(store):
    _, client = store
    name = locks.lease_name(NAME)
    client.create_registered_model(name, tags={"churnops.lease.token": "dead", "churnops.lease.expires_ms": "1",
                                               "churnops.lease.holder": "gone:1"})
    with locks.lease(client, NAME, wait=5) as token:
        assert client.get_registered_model(name).tags["churnops.lease.token"] == token
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_registered_model(name)


def test_a_held_lease_refuses_after_the_bounded_wait(store):
    _, client = store
    with locks.lease(client, NAME):
        with pytest.raises(locks.RegistryError, match="being moved by .*waited 0 s, nothing was moved"):
            with locks.lease(client, NAME, wait=0):
                pass
