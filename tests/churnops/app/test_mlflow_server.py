"""`churnops mlflow serve`: the server command per artifact mode, database preparation on the local PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from churnops.app import cli
from churnops.app import mlflow_server as server
from churnops.errors import TrackingError

PG = "postgresql://postgres@127.0.0.1:5432"  # in command lines only: nothing connects to it


def flags(argv: list[str]) -> dict[str, str | None]:
    """--flag value pairs of an argv (bare flags map to None)."""
    out: dict[str, str | None] = {}
    args = argv[argv.index("server") + 1:]
    for i, arg in enumerate(args):
        if arg.startswith("--"):
            nxt = args[i + 1] if i + 1 < len(args) else None
            out[arg] = None if nxt is None or nxt.startswith("--") else nxt
    return out


def test_proxied_command_matches_the_chart():
    config = server.ServerConfig(f"{PG}/db", artifacts_destination="s3://bucket/mlflow", port=5001)
    got = flags(server.server_command(config))
    assert got["--serve-artifacts"] is None
    assert got["--artifacts-destination"] == "s3://bucket/mlflow"
    assert got["--default-artifact-root"] == "mlflow-artifacts:/"
    assert got["--backend-store-uri"] == f"{PG}/db" and got["--port"] == "5001" and got["--workers"] == "1"


def test_direct_command_matches_the_chart():
    config = server.ServerConfig(f"{PG}/db", default_artifact_root="gs://bucket/mlflow")
    got = flags(server.server_command(config))
    assert "--no-serve-artifacts" in got and "--artifacts-destination" not in got
    assert got["--default-artifact-root"] == "gs://bucket/mlflow"


@pytest.mark.parametrize(("destination", "root"), [(None, None), ("s3://a", "s3://b")], ids=["neither", "both"])
def test_exactly_one_artifact_mode(destination, root):
    with pytest.raises(TrackingError, match="Pick one artifact mode: --artifacts-destination.*--default-artifact-root"):
        server.ServerConfig(f"{PG}/db", destination, root)


def test_local_config_defaults_and_environment(tmp_path):
    default = server.local_config({}, tmp_path)
    assert default.backend_store_uri == server.DEFAULT_BACKEND_STORE_URI
    assert default.artifacts_destination == (tmp_path / "mlflow-server" / "artifacts").as_uri()
    from_env = server.local_config({"MLFLOW_BACKEND_STORE_URI": f"{PG}/x",
                                    "MLFLOW_ARTIFACTS_DESTINATION": "s3://bucket/m"}, tmp_path)
    assert (from_env.backend_store_uri, from_env.artifacts_destination) == (f"{PG}/x", "s3://bucket/m")
    direct = server.local_config({}, tmp_path, default_artifact_root="s3://bucket/d")
    assert (direct.proxied, direct.default_artifact_root) == (False, "s3://bucket/d")


def test_passwords_never_appear_in_messages():
    assert server.redact("postgresql://mlflow:hunter2@db:5432/mlflow") == "postgresql://mlflow:***@db:5432/mlflow"
    with pytest.raises(TrackingError) as error:
        server.database_name("mysql://mlflow:hunter2@db/mlflow")
    assert "hunter2" not in str(error.value) and "postgresql://USER@HOST:PORT/DATABASE" in str(error.value)


@pytest.mark.integration
def test_database_is_created_once_and_dropped(postgres):
    uri = f"{postgres}/churnops_unit_{uuid.uuid4().hex[:8]}"
    try:
        assert server.ensure_database(uri) is True
        assert server.ensure_database(uri) is False
    finally:
        server.drop_database(uri)
    assert server.ensure_database(uri) is True
    server.drop_database(uri)


def test_serve_with_postgres_unreachable_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CHURNOPS_HOME", str(tmp_path))
    code = cli.main(["mlflow", "serve", "--backend-store-uri", "postgresql://postgres:pw@127.0.0.1:1/churnops_mlflow"])
    err = capsys.readouterr().err
    assert code == 1
    assert "churnops mlflow: error: Cannot reach PostgreSQL for postgresql://postgres:***@127.0.0.1:1/churnops_mlflow" in err
    assert "Start PostgreSQL or fix the host, port and user in --backend-store-uri" in err
    assert "pw@" not in err and not Path(tmp_path / "mlflow-server").exists()


@pytest.mark.integration
def test_mlflow_ui_runs_without_the_job_runner_and_without_telemetry(tmp_path):
    """`churnops mlflow ui` as a user starts it: a real process on 127.0.0.1, its environment read from /proc."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION")}
    process = subprocess.Popen([sys.executable, "-m", "churnops", "mlflow", "ui", "--port", str(port)],
                               env={**env, "CHURNOPS_HOME": str(tmp_path)}, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"mlflow ui did not answer /health: {process.stderr.read() if process.poll() is not None else 'timeout'}")
        # execve keeps the pid: this is the mlflow ui process itself.
        environ = dict(item.split("=", 1) for item in
                       open(f"/proc/{process.pid}/environ", "rb").read().decode().split("\0") if "=" in item)
        assert environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
        assert environ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
        tree = subprocess.run(["ps", "-o", "args=", "--ppid", str(process.pid)], capture_output=True, text=True).stdout
        assert "huey" not in tree and "job" not in tree.lower(), tree
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert "workflowType=machine_learning" in process.stderr.read()
