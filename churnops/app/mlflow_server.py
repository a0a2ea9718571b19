"""Run the production-topology MLflow server locally: PostgreSQL metadata, S3/GCS/local artifacts.

`churnops mlflow serve` (and `make mlflow-server`) does what the Helm chart's pod does: create the
database when missing, `mlflow db upgrade` (the chart's init container), then `mlflow server` with
the same flags. The integration tests build their servers' command lines with the same functions,
so what they test is what this starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from churnops.errors import TrackingError

DEFAULT_BACKEND_STORE_URI = "postgresql://postgres@127.0.0.1:5432/churnops_mlflow"
POSTGRES_SCHEMES = ("postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgres")


@dataclass(frozen=True)
class ServerConfig:
    """One `mlflow server`: proxied artifacts (`artifacts_destination`) or direct (`default_artifact_root`)."""

    backend_store_uri: str
    artifacts_destination: str | None = None
    default_artifact_root: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if bool(self.artifacts_destination) == bool(self.default_artifact_root):
            raise TrackingError(
                "Pick one artifact mode: --artifacts-destination URI (proxied: the server reads and "
                "writes artifacts; clients need only the tracking URI) or --default-artifact-root URI "
                "(direct: clients write to the store with their own credentials)."
            )

    @property
    def proxied(self) -> bool:
        return bool(self.artifacts_destination)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def server_command(config: ServerConfig) -> list[str]:
    """The `mlflow server` argv, with the flags the Helm chart passes for the same mode."""
    argv = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", config.backend_store_uri,
        "--host", config.host,
        "--port", str(config.port),
        "--workers", str(config.workers),
    ]
    if config.proxied:
        argv += ["--serve-artifacts", "--artifacts-destination", config.artifacts_destination,
                 "--default-artifact-root", "mlflow-artifacts:/"]
    else:
        argv += ["--no-serve-artifacts", "--default-artifact-root", config.default_artifact_root]
    if config.allowed_hosts:
        argv += ["--allowed-hosts", ",".join(config.allowed_hosts)]
    return argv


def upgrade_command(backend_store_uri: str) -> list[str]:
    return [sys.executable, "-m", "mlflow", "db", "upgrade", backend_store_uri]


def redact(uri: str) -> str:
    """The URI without its password, for messages and logs."""
    parsed = urlparse(uri)
    if parsed.password is None:
        return uri
    netloc = f"{parsed.username}:***@{parsed.hostname}" + (f":{parsed.port}" if parsed.port else "")
    return urlunparse(parsed._replace(netloc=netloc))


def database_name(backend_store_uri: str) -> str:
    parsed = urlparse(backend_store_uri)
    if parsed.scheme not in POSTGRES_SCHEMES:
        raise TrackingError(
            f"Backend store {redact(backend_store_uri)} is not PostgreSQL; pass "
            "--backend-store-uri postgresql://USER@HOST:PORT/DATABASE."
        )
    name = parsed.path.lstrip("/")
    if not name:
        raise TrackingError(
            f"Backend store {redact(backend_store_uri)} names no database; add one, e.g. .../churnops_mlflow."
        )
    return name


def _admin_conninfo(backend_store_uri: str) -> str:
    """libpq URI of the maintenance database `postgres` on the same server, same user."""
    parsed = urlparse(backend_store_uri)
    return urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))


def _admin_execute(backend_store_uri: str, statement, parameters: tuple = ()) -> list[tuple]:
    import psycopg

    try:
        with psycopg.connect(_admin_conninfo(backend_store_uri), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(statement, parameters)
            return cursor.fetchall() if cursor.description else []
    except psycopg.OperationalError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(
            f"Cannot reach PostgreSQL for {redact(backend_store_uri)} ({detail}). Start PostgreSQL or fix "
            "the host, port and user in --backend-store-uri."
        ) from None


def ensure_database(backend_store_uri: str) -> bool:
    """Create the backend database when missing; True when it was created."""
    from psycopg import sql

    name = database_name(backend_store_uri)
    if _admin_execute(backend_store_uri, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)):
        return False
    _admin_execute(backend_store_uri, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def drop_database(backend_store_uri: str) -> None:
    """Drop the backend database (test sessions clean up after themselves)."""
    from psycopg import sql

    name = database_name(backend_store_uri)
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    _admin_execute(backend_store_uri, statement)


def upgrade_database(backend_store_uri: str, log: Path | None = None) -> None:
    """`mlflow db upgrade`: bring the schema to this MLflow version (idempotent)."""
    result = subprocess.run(upgrade_command(backend_store_uri), capture_output=True, text=True, check=False)
    if log is not None:
        log.write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise TrackingError(
            f"`mlflow db upgrade` failed for {redact(backend_store_uri)}: {lines[-1] if lines else 'no output'}. "
            "Check the database is reachable and this user may create tables."
        )


def prepare(backend_store_uri: str) -> bool:
    """What runs before the server starts: the database exists and its schema is current."""
    created = ensure_database(backend_store_uri)
    upgrade_database(backend_store_uri)
    return created


def job_execution_env(environ: dict[str, str]) -> dict[str, str]:
    """The server's environment: MLflow's GenAI job runner (7 huey processes) off unless asked for.

    churnops runs no server-side MLflow jobs; without them the server starts faster and lighter.
    """
    return {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **environ}


TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true"}  # mlflow 3.17 mlflow/telemetry/utils.py is_telemetry_disabled


def ui_env(environ: dict[str, str]) -> dict[str, str]:
    """`churnops mlflow ui`: like the server, no job runner, and no usage telemetry (unless the user set them)."""
    return {**TELEMETRY_OFF, **job_execution_env(environ)}


def ui_command(tracking_uri: str, host: str, port: int) -> list[str]:
    """`mlflow ui` on the embedded store, one worker, bound where asked (127.0.0.1 by default)."""
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri,
            "--host", host, "--port", str(port), "--workers", "1"]


def ui_url(host: str, port: int) -> str:
    """The UI in its model-training view: MLflow 3.17's sidebar otherwise starts in GenAI mode (its
    `mlflow.workflowType` local-storage default is `genai`; the `workflowType` query parameter wins)."""
    return f"http://{host}:{port}/#/experiments?workflowType=machine_learning"


def local_config(
    environ: dict[str, str],
    home: Path,
    *,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    default_artifact_root: str | None = None,
    host: str = "127.0.0.1",
    port: int = 5000,
) -> ServerConfig:
    """What `churnops mlflow serve` runs: flags first, then MLflow's own variables, then local defaults.

    Proxied by default, to a folder under the churnops home unless MLFLOW_ARTIFACTS_DESTINATION
    (e.g. s3://bucket/mlflow with MLFLOW_S3_ENDPOINT_URL for MinIO) says otherwise.
    """
    backend = backend_store_uri or environ.get("MLFLOW_BACKEND_STORE_URI") or DEFAULT_BACKEND_STORE_URI
    if default_artifact_root:
        return ServerConfig(backend, None, default_artifact_root, host, port)
    destination = (artifacts_destination or environ.get("MLFLOW_ARTIFACTS_DESTINATION")
                   or (home / "mlflow-server" / "artifacts").as_uri())
    return ServerConfig(backend, destination, None, host, port)


def serve(config: ServerConfig, environ: dict[str, str]) -> None:
    """Prepare the database, then replace this process with `mlflow server` (Ctrl-C stops it)."""
    created = prepare(config.backend_store_uri)
    mode = f"proxied to {config.artifacts_destination}" if config.proxied else f"direct to {config.default_artifact_root}"
    print(
        f"MLflow server on {config.url} (backend {redact(config.backend_store_uri)}"
        f"{', database created' if created else ''}; artifacts {mode}); Ctrl-C to stop",
        file=sys.stderr, flush=True,
    )
    argv = server_command(config)
    os.execve(argv[0], argv, job_execution_env(environ))
