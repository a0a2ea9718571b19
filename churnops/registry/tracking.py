"""Where MLflow lives: the embedded store by default, or any tracking server URL.

The embedded store is SQLite plus an artifact folder under one project-local directory
(`.churnops/mlflow/`), so a first run needs nothing started.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from churnops import defaults, names
from churnops.core import secrets
from churnops.errors import TrackingError

if TYPE_CHECKING:
    import mlflow

# MLflow is imported where it is used: the CLI reads the home, the store's URI and probes a server
# (standard library only) before it pays for importing MLflow, so a wrong --tracking-uri fails fast.

HOME_ENV = names.ENV_HOME
DEFAULT_HOME = defaults.HOME


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


WAIT_ENV = "CHURNOPS_TRACKING_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 60.0  # an MLflow pod restart (db upgrade + server start) takes 15-45 s


def wait_seconds(environ: dict | None = None, default: float = DEFAULT_WAIT_SECONDS) -> float:
    """How long a step waits for the tracking server: $CHURNOPS_TRACKING_WAIT_SECONDS or 60 s."""
    environ = os.environ if environ is None else environ
    raw = environ.get(WAIT_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else default
    except ValueError:
        raise TrackingError(f"{WAIT_ENV} must be a number of seconds, got {raw!r}.") from None


def interactive_wait_seconds(environ: dict | None = None) -> float:
    """How long a command a person waits on (`churnops train`, `predict`, `models ...`) retries a tracking
    server that does not answer before it says so: $CHURNOPS_TRACKING_WAIT_SECONDS or 2 s. Pipeline steps
    and `churnops serve` keep the patient default (an MLflow pod restart takes 15-45 s)."""
    return wait_seconds(environ, defaults.INTERACTIVE_TRACKING_WAIT_SECONDS)


def _probe(tracking_uri: str, timeout: float) -> str | None:
    """None when /health answers 200, else why not."""
    try:
        with urllib.request.urlopen(tracking_uri.rstrip("/") + "/health", timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


def check_tracking_uri(tracking_uri: str) -> None:
    """Refuse credentials inside a tracking URI at once: they would be printed, logged and passed to every step.

    (MLflow's REST client does not read userinfo, so such a URI never worked: its health check took
    `user:password@host` for the host and retried for a minute.)"""
    if secrets.credentials(tracking_uri):
        raise TrackingError(
            f"The tracking URI {secrets.redact(tracking_uri)} carries credentials (USER:PASSWORD@ or a token in the "
            "query). Pass it without them, and give MLflow the user with MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) in the environment, as MLflow reads them."
        )


def wait_for_server(tracking_uri: str, timeout: float | None = None, first_delay: float = 0.5,
                    max_delay: float = 8.0) -> None:
    """Wait for an HTTP tracking server's /health with exponential backoff, then fail naming the URI.

    Bounded by `timeout` seconds (default: wait_seconds()); at least one attempt is made.
    """
    check_tracking_uri(tracking_uri)
    if urlparse(tracking_uri).scheme not in ("http", "https"):
        return
    timeout = wait_seconds() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    delay = first_delay
    attempts = 0
    while True:
        attempts += 1
        last_error = _probe(tracking_uri, timeout=min(10.0, max(1.0, timeout)))
        if last_error is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if attempts == 1:
            print(f"churnops: MLflow tracking server {tracking_uri} is not answering ({last_error}); "
                  f"retrying for up to {timeout:.0f} s ({WAIT_ENV})", file=sys.stderr, flush=True)
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, max_delay)
    raise TrackingError(
        f"MLflow tracking server {tracking_uri} did not answer /health after {attempts} attempts in "
        f"{timeout:.0f} s ({last_error}). Start it (make mlflow-server) or pass a reachable --tracking-uri; "
        f"{WAIT_ENV} sets how long to wait."
    )


# MLflow >= 3.x clients of a proxied S3 server fetch artifacts from presigned bucket URLs rather than
# through the server: pipeline pods would then need a route to the bucket. Proxied means proxied
# (clients need only the tracking URI) unless the user sets this variable themselves.
PROXY_DOWNLOAD_ENV = "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD"


def connect(tracking_uri: str, wait: float | None = None) -> None:
    """Point this process at the tracking store, creating the embedded one if needed.

    `wait`: seconds to wait for a tracking server that does not answer (default: wait_seconds(), the
    patience of a pipeline step; interactive commands pass interactive_wait_seconds())."""
    check_tracking_uri(tracking_uri)
    database = _sqlite_path(tracking_uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
        initialise_embedded_store(tracking_uri, database)
    os.environ.setdefault(PROXY_DOWNLOAD_ENV, "false")
    wait_for_server(tracking_uri, timeout=wait)
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def initialise_embedded_store(tracking_uri: str, database: Path) -> None:
    """Create and migrate a fresh SQLite store under an flock, so two first runs do not both migrate.

    Without it, two processes starting on a fresh store both run MLflow's alembic migrations and
    one fails ("CommandError ... alembic"). An existing store is opened as before.
    """
    import fcntl

    marker = database.with_name(database.name + ".initialised")
    if marker.exists():
        return
    import mlflow

    with open(database.with_name(database.name + ".init.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.exists():
                return
            client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            client.search_experiments(max_results=1)  # creates and migrates the tracking tables
            client.search_registered_models(max_results=1)  # and the registry's
            marker.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


EXPERIMENT_DESCRIPTION = (
    "churnops: customer-churn classifiers. Each training run logs its dataset (Datasets column), the "
    "candidate search as nested runs and the refit winner with its holdout evaluation; the run name says "
    "which data and which model. Registered versions and the `champion` alias: Models tab; "
    "`churnops models list|show|history` on the command line."
)


def experiment_tags() -> dict[str, str]:
    """What makes MLflow open the experiment as model training, with a description."""
    return {names.EXPERIMENT_TAG_KIND: names.EXPERIMENT_KIND_MODEL_TRAINING,
            names.EXPERIMENT_TAG_DESCRIPTION: EXPERIMENT_DESCRIPTION}


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """The experiment's id, creating it (with the right artifact location and tags) when missing.

    An experiment created before the tags existed gets the ones it lacks; tags a user set stay.
    """
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise TrackingError(
                f"Experiment {name!r} is deleted in {tracking_uri}. Restore it in the MLflow UI or pick another --experiment."
            )
        for key, value in experiment_tags().items():
            if key not in experiment.tags:
                client.set_experiment_tag(experiment.experiment_id, key, value)
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location_for(tracking_uri),
                                        tags=experiment_tags())
    except mlflow.exceptions.MlflowException:
        # Another step created it in between: use theirs.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def owner() -> str:
    """host:pid of the process that owns this run's MLflow runs (the local `churnops train`, or this step)."""
    import socket

    return os.environ.get(names.ENV_RUN_OWNER) or f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(tag: str) -> bool | None:
    """Whether the owner process still runs; None when it is on another host (cannot tell)."""
    import socket

    host, _, pid = tag.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_runs(client: mlflow.MlflowClient, experiment_ids: list[str], *, finished_owner: str = "") -> list[str]:
    """Mark FAILED every RUNNING churnops run whose owner died (or is `finished_owner`); returns their ids.

    Runs of owners on another host are left alone: this process cannot tell whether they still run.
    """
    from mlflow.entities import RunStatus

    swept = []
    for run in client.search_runs(experiment_ids, "attributes.status = 'RUNNING'", max_results=1000):
        tag = run.data.tags.get(names.RUN_TAG_OWNER, "")
        if not tag or names.RUN_TAG_STEP not in run.data.tags:
            continue
        if tag == finished_owner or owner_alive(tag) is False:
            client.set_tag(run.info.run_id, names.RUN_TAG_SWEPT,
                           f"left RUNNING by {tag}, which {'failed' if tag == finished_owner else 'is gone'}")
            client.set_tag(run.info.run_id, names.RUN_TAG_ENDED_BY, names.ENDED_BY_OWNER_SWEEP)
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
            swept.append(run.info.run_id)
    return swept


def kfp_run_filter(kfp_run_id: str) -> str:
    """The search_runs filter for the RUNNING runs of one KFP run; refuses an id KFP did not fill."""
    if not kfp_run_id or kfp_run_id.startswith("{{") or "'" in kfp_run_id or "`" in kfp_run_id:
        raise TrackingError(
            f"No KFP run id to look for (got {kfp_run_id!r}): the exit handler needs the run's id; pass "
            "dsl.PIPELINE_JOB_ID_PLACEHOLDER as kfp_run_id in the pipeline."
        )
    return f"attributes.status = 'RUNNING' and tags.`{names.RUN_TAG_KFP_RUN_ID}` = '{kfp_run_id}'"


def end_kfp_run_orphans(client: mlflow.MlflowClient, experiment_ids: list[str], kfp_run_id: str,
                        why: str) -> list[str]:
    """Mark FAILED every RUNNING run tagged with KFP run `kfp_run_id` (names.RUN_TAG_KFP_RUN_ID); returns their ids.

    Runs of other KFP runs, runs without the tag and finished runs are not matched by the filter.
    """
    from mlflow.entities import RunStatus

    query = kfp_run_filter(kfp_run_id)
    ended = []
    for run in client.search_runs(experiment_ids, query, max_results=1000):
        client.set_tag(run.info.run_id, names.RUN_TAG_SWEPT, why[:5000])
        client.set_tag(run.info.run_id, names.RUN_TAG_ENDED_BY, names.ENDED_BY_EXIT_HANDLER)
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
        ended.append(run.info.run_id)
    return ended
