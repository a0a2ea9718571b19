"""The integration tier runs on the PostgreSQL server this test run started, not on one that happened
to be listening (tests/support/test_shared_services.py proves that server is stopped afterwards)."""

from __future__ import annotations

import json
import os
import urllib.request

import psycopg
import pytest
from support import postgres, shared

pytestmark = pytest.mark.integration


def test_every_mlflow_server_of_the_topology_uses_the_database_on_the_runs_own_server(topology, pytestconfig):
    for server in topology.servers.values():  # each server opens its pool on a real call
        with urllib.request.urlopen(f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=30) as r:
            assert r.status == 200
    with psycopg.connect(topology.database_uri.replace("postgresql+psycopg2://", "postgresql://")) as connection:
        data_dir = connection.execute("SHOW data_directory").fetchone()[0]
        port = connection.execute("SELECT inet_server_port()").fetchone()[0]
        clients = connection.execute("SELECT count(DISTINCT client_port) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert clients >= len(topology.servers), f"only {clients} connections to the topology's database"
    own = os.environ.get(shared.POSTGRES_ENV)
    if own:  # a developer's server, asked for by name
        assert topology.database_uri.startswith(own.rstrip("/") + "/")
        return
    record = shared.run_dir(pytestconfig) / "services" / "postgres.json"
    server = postgres.Server(**json.loads(record.read_text()))
    assert (port, data_dir) == (server.port, server.data_dir) and postgres.is_running(server)
    assert topology.database_uri.startswith(f"{server.uri}/") and server.port != 5432
