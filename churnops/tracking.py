"""Where MLflow lives: the embedded store by default, or any tracking server URL.

The embedded store is SQLite plus an artifact folder under one project-local directory
(`.churnops/mlflow/`), so a first run needs nothing started.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from churnops.errors import TrackingError

# mlflow is imported where it is used: importing it costs 1.5-2 s, which `churnops train` overlaps
# with the pipeline's first step instead of paying up front (see runs.train).

HOME_ENV = "CHURNOPS_HOME"
DEFAULT_HOME = ".churnops"


def churnops_home(environ: dict | None = None) -> Path:
    """The project-local directory for the embedded store and local run outputs."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(HOME_ENV, DEFAULT_HOME)).resolve()


def embedded_tracking_uri(home: Path) -> str:
    return f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"


def _sqlite_path(tracking_uri: str) -> Path | None:
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///") :])
    return None


def artifact_location_for(tracking_uri: str) -> str | None:
    """Artifacts of the embedded store sit beside its database, not in the caller's cwd."""
    database = _sqlite_path(tracking_uri)
    if database is None:
        return None  # a server decides its own artifact root
    return (database.parent / "artifacts").as_uri()


def wait_for_server(tracking_uri: str, attempts: int = 5, first_delay: float = 1.0) -> None:
    """Check an HTTP tracking server answers /health, retrying with backoff, then fail clearly."""
    if urlparse(tracking_uri).scheme not in ("http", "https"):
        return
    delay = first_delay
    last_error = ""
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(tracking_uri.rstrip("/") + "/health", timeout=10) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(getattr(exc, "reason", exc))
        if attempt < attempts:
            time.sleep(delay)
            delay *= 2
    raise TrackingError(
        f"MLflow tracking server {tracking_uri} did not answer /health after {attempts} attempts "
        f"({last_error}). Start it or pass a reachable --tracking-uri."
    )


def check_reachable(tracking_uri: str) -> None:
    """Make room for the embedded store, or wait for a server's /health; no MLflow import."""
    database = _sqlite_path(tracking_uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    wait_for_server(tracking_uri)


def connect(tracking_uri: str) -> None:
    """Point this process at the tracking store, creating the embedded one if needed."""
    import mlflow

    check_reachable(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """The experiment's id, creating it (with the right artifact location) when missing."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise TrackingError(
                f"Experiment {name!r} is deleted in {tracking_uri}. Restore it in the MLflow UI or pick another --experiment."
            )
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location_for(tracking_uri))
    except mlflow.exceptions.MlflowException:
        # Another step created it in between: use theirs.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id
