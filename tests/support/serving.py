"""Helpers of the serving tests (tests/churnops/serving): real processes on loopback, HTTP on loopback.
An `mlflow server` with proxied artifacts, and `churnops serve` processes started against it.

The MLflow server is the one `churnops mlflow serve` builds (churnops.app.mlflow_server.server_command),
on a SQLite backend in tmp (the serving path does not touch the database engine) with artifacts
proxied to a local folder, so the predictor holds the tracking URI only, as in the cluster.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import integration_services as services  # tests/integration, on pytest's pythonpath

from churnops import defaults

MLFLOW_READY_SECONDS = 150.0  # an mlflow server answers /health after 13-45 s on this shared machine
SERVE_READY_SECONDS = 120.0  # churnops serve imports mlflow + kserve and loads the model


@dataclass
class Tracking:
    url: str
    artifacts: Path
    service: services.Service


@dataclass
class Served:
    url: str
    service: services.Service

    def post(self, path: str, body: dict, timeout: float = 30.0) -> tuple[int, dict]:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def start_tracking(root: Path, **env: str) -> Tracking:
    """The `mlflow server` of `churnops mlflow serve` on a SQLite backend in `root`, artifacts proxied;
    `env`: more of the server's environment (MLflow's webhook settings)."""
    from churnops.app import mlflow_server

    port = services.free_port()
    config = mlflow_server.ServerConfig(backend_store_uri=f"sqlite:///{root / 'mlflow.db'}",
                                        artifacts_destination=str(root / "artifacts"), port=port)
    service = services.Service("mlflow", mlflow_server.server_command(config),
                               {**mlflow_server.job_execution_env(serve_env(root)), **env}, root / "mlflow.log",
                               config.url + "/health")
    service.start().wait_ready(MLFLOW_READY_SECONDS)
    return Tracking(config.url, root / "artifacts", service)


def serve_argv(model_uri: str, tracking_uri: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "churnops", "serve", "--model-uri", model_uri, "--tracking-uri", tracking_uri,
            "--port", str(port), *extra]


def serve_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "AWS_", "GOOGLE_"))}
    env["CHURNOPS_HOME"] = str(home)
    return env


def start_server(model_uri: str, tracking_uri: str, home: Path, *extra: str, ready: bool = True) -> Served:
    port = services.free_port()
    service = services.Service("churnops-serve", serve_argv(model_uri, tracking_uri, port, *extra), serve_env(home),
                               home / f"serve-{port}.log", f"http://127.0.0.1:{port}/v2/health/ready")
    service.start()
    if ready:
        service.wait_ready(SERVE_READY_SECONDS)
    return Served(f"http://127.0.0.1:{port}", service)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll `predicate` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


CHAMPION_URI = defaults.CHAMPION_URI
