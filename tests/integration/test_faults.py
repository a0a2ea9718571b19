"""What users hit on the production topology: each fault ends in a clear error or a clean resume,
and never in a registered version whose model files are missing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import mlflow
import psycopg
import pytest

from churnops.app import cli, runs
from churnops.errors import ChurnopsError
from churnops.registry import versions

pytestmark = pytest.mark.integration


def versions_of(tracking_uri: str, model_name: str) -> list:
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return client.search_model_versions(f"name='{model_name}'")


def assert_every_version_has_its_files(tracking_uri: str, model_name: str) -> None:
    from churnops.registry import tracking

    # As every churnops process connects: model files through the server, not MLflow's presigned
    # multipart download (which this test process got when no earlier test in it had connected).
    tracking.connect(tracking_uri)
    for version in versions_of(tracking_uri, model_name):
        versions.check_model_files(version.source)  # raises RegistryError when the files are gone


def test_server_down_at_start_fails_within_the_bound_naming_the_uri(home, synthetic_csv, monkeypatch, capsys):
    """Nothing listens on the port: bounded retries with backoff, then one error that names the URI."""
    from churnops.registry import tracking

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening: connection refused
        monkeypatch.setenv(tracking.WAIT_ENV, "3")
        started = time.monotonic()
        code = cli.main(["train", "--dataset", str(synthetic_csv), "--tracking-uri", uri, "--json"])
        elapsed = time.monotonic() - started
    err = capsys.readouterr()
    assert code == 1
    assert err.out == ""
    assert f"MLflow tracking server {uri} did not answer /health" in err.err
    assert "Start it (make mlflow-server) or pass a reachable --tracking-uri" in err.err
    assert 3 <= elapsed < 15
    assert not (home / "logs").exists(), "a step started although the server was down"


def _runs_in(database_uri: str, experiment: str) -> int:
    with psycopg.connect(database_uri, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id WHERE e.name = %s",
            (experiment,),
        ).fetchone()
    return row[0]


def test_server_restarted_mid_run_resumes_or_fails_cleanly(topology, synthetic_csv, tmp_path):
    """The proxied server is killed (SIGKILL, like a crashed pod) as soon as the training run exists,
    while the model is being fitted and uploaded, and started again; MLflow's client retries and
    churnops' /health wait carry the run over the gap, or it fails with one clear line."""
    server = topology.servers["proxied-s3"]
    experiment, model_name = "it-restart", "churn-restart"
    churnops = str(Path(sys.executable).parent / "churnops")
    env = {**os.environ, "CHURNOPS_HOME": str(tmp_path / "home")}
    run = subprocess.Popen(
        [churnops, "train", "--dataset", str(synthetic_csv), "--tracking-uri", server.url,
         "--experiment", experiment, "--model-name", model_name, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    output: dict[str, str] = {}
    reader = threading.Thread(target=lambda: output.update(zip(("out", "err"), run.communicate(), strict=True)))
    reader.start()
    deadline = time.monotonic() + 120
    while _runs_in(topology.database_uri, experiment) == 0:
        assert run.poll() is None, f"the run ended before the restart: {output}"
        assert time.monotonic() < deadline, "the training run never started"
        time.sleep(0.2)
    server.restart()
    reader.join(timeout=300)
    assert not reader.is_alive(), "the run hung after the restart"

    versions = versions_of(server.url, model_name)
    outcome = "resumed" if run.returncode == 0 else "failed cleanly"
    print(f"\nrestart mid-run: {outcome} (server ready again after {server.process.ready_seconds}s)", file=sys.stderr)
    if run.returncode == 0:
        summary = json.loads(output["out"])
        assert [v.version for v in versions] == [summary["model_version"]]
    else:
        assert "churnops train: error:" in output["err"], output["err"]
        assert "Traceback" not in output["err"]
    assert_every_version_has_its_files(server.url, model_name)


def test_wrong_s3_credentials_fail_the_run_and_register_nothing(topology, synthetic_csv, tmp_path, monkeypatch):
    """Direct mode: the step writes to S3 itself; a wrong secret stops it before anything is registered."""
    server = topology.servers["direct-s3"]
    model_name = "churn-wrong-credentials"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-of-this-key")
    with pytest.raises(ChurnopsError) as error:
        runs.train(str(synthetic_csv), tracking_uri=server.url, experiment="it-wrong-credentials",
                   model_name=model_name, home=tmp_path / "home")
    message = str(error.value)
    assert f"Could not write model artifacts to {server.artifact_root}" in message
    assert "nothing was registered" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert versions_of(server.url, model_name) == []
    client = mlflow.MlflowClient(tracking_uri=server.url)
    experiment = client.get_experiment_by_name("it-wrong-credentials")
    (failed,) = client.search_runs([experiment.experiment_id])
    assert failed.info.status == "FAILED"
