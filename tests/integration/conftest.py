"""The production topology on loopback, started once for the integration package.

- PostgreSQL: a fresh database on the server this test run started (the session fixture `postgres`,
  tests/support/shared.py; or $CHURNOPS_TEST_POSTGRES), trust auth, `mlflow db upgrade`d, dropped after.
- S3: `moto_server` with a bucket and an IAM user; after set-up moto enforces signatures, so wrong
  credentials fail as they would on MinIO. The user's key exists only in this process's environment.
- GCS: `gcp-storage-emulator` (in memory) with a bucket.
- Three real `mlflow server` processes on that one database (like replicas with different artifact
  configs), built by churnops.app.mlflow_server exactly as `churnops mlflow serve` builds them:
  proxied-s3 (--serve-artifacts to s3://), direct-s3 (--default-artifact-root s3://, clients write
  with their own credentials) and proxied-gcs (--serve-artifacts to gs://).
Logs of every process are in one folder; a failing test shows their tails.
"""

from __future__ import annotations

import functools
import http.server
import os
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import integration_services as services  # beside this file; on pytest's pythonpath
import pytest

from churnops.app import mlflow_server

READY_TIMEOUT = 150.0  # an mlflow server answers /health after 13-45 s here; three start at once
SERVER_MODES = ("proxied-s3", "direct-s3", "proxied-gcs")


@dataclass
class MlflowServer:
    mode: str
    config: mlflow_server.ServerConfig
    artifact_root: str  # where this server's artifacts land in the bucket
    process: object = None

    @property
    def url(self) -> str:
        return self.config.url

    def restart(self, timeout: float = READY_TIMEOUT) -> None:
        """Kill the server's process group at once (a crashed or evicted pod), then start it again."""
        self.process.stop(grace=0)
        self.process.start().wait_ready(timeout)


@dataclass
class Topology:
    database_uri: str
    s3_endpoint: str
    bucket: str
    gcs_endpoint: str
    gcs_bucket: str
    log_dir: Path
    servers: dict[str, MlflowServer] = field(default_factory=dict)
    processes: list = field(default_factory=list)
    secrets: tuple[str, ...] = ()

    def s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_endpoint)  # credentials: the environment

    def s3_keys(self, prefix: str) -> list[str]:
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def gcs_keys(self, prefix: str) -> list[str]:
        from google.cloud import storage

        return [blob.name for blob in storage.Client().list_blobs(self.gcs_bucket, prefix=prefix)]

    def keys(self, artifact_uri: str) -> list[str]:
        """Object names under an s3:// or gs:// URI, read from the store itself."""
        scheme, rest = artifact_uri.split("://", 1)
        bucket, _, prefix = rest.partition("/")
        return self.s3_keys(prefix) if scheme == "s3" else self.gcs_keys(prefix)

    def logs_text(self) -> str:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace") for path in self.log_dir.rglob("*.log"))


def _bootstrap_s3(endpoint: str, bucket: str) -> tuple[str, str]:
    """Create the bucket and an IAM user allowed s3:*, then make moto check every signature.

    Runs while moto still accepts any signature, signed with a throwaway random key (moto routes a
    request to IAM or S3 by its signature's scope); returns the user's key pair.
    """
    import json
    import secrets
    import urllib.request

    import boto3

    throwaway = boto3.Session(aws_access_key_id=secrets.token_hex(10).upper(),
                              aws_secret_access_key=secrets.token_urlsafe(30), region_name="us-east-1")
    iam = throwaway.client("iam", endpoint_url=endpoint)
    iam.create_user(UserName="churnops-pipeline")
    iam.put_user_policy(
        UserName="churnops-pipeline",
        PolicyName="churnops-artifacts",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
    )
    key = iam.create_access_key(UserName="churnops-pipeline")["AccessKey"]
    throwaway.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).close()
    return key["AccessKeyId"], key["SecretAccessKey"]


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="package")
def topology(tmp_path_factory, postgres):
    """Everything started once, in parallel where it can be; stopped by process group and dropped after."""
    started = time.monotonic()
    log_dir = tmp_path_factory.mktemp("integration-logs")
    suffix = uuid.uuid4().hex[:8]
    topo = Topology(
        database_uri=f"{postgres}/churnops_it_{suffix}",
        s3_endpoint=f"http://127.0.0.1:{services.free_port()}",
        bucket=f"churnops-it-{suffix}",
        gcs_endpoint=f"http://127.0.0.1:{services.free_port()}",
        gcs_bucket=f"churnops-it-gcs-{suffix}",
        log_dir=log_dir,
    )
    patch = pytest.MonkeyPatch()
    # A SIGTERM (CI time-out, a killed job) unwinds like Ctrl-C, so the finally below still stops
    # every process group and drops the database.
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    # Nothing may leave loopback: no cloud metadata servers, no real endpoints.
    patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    patch.setenv("NO_GCE_CHECK", "true")
    patch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    patch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    patch.setenv("MLFLOW_S3_ENDPOINT_URL", topo.s3_endpoint)
    patch.setenv("STORAGE_EMULATOR_HOST", topo.gcs_endpoint)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN",
                 "GOOGLE_APPLICATION_CREDENTIALS"):
        patch.delenv(name, raising=False)
    bin_dir = Path(sys.executable).parent
    moto = services.Service("moto_server", [str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p",
                            topo.s3_endpoint.rsplit(":", 1)[1]], dict(os.environ), log_dir / "moto.log",
                            f"{topo.s3_endpoint}/moto-api/")
    gcs = services.Service("gcp-storage-emulator", [str(bin_dir / "gcp-storage-emulator"), "start", "--host",
                           "127.0.0.1", "--port", topo.gcs_endpoint.rsplit(":", 1)[1], "--in-memory",
                           "--default-bucket", topo.gcs_bucket], dict(os.environ), log_dir / "gcs.log",
                           f"{topo.gcs_endpoint}/storage/v1/b")
    try:
        for process in (moto, gcs):
            topo.processes.append(process.start())
        mlflow_server.prepare(topo.database_uri)  # create + `mlflow db upgrade` while the emulators boot
        moto.wait_ready(60)
        access_key, secret_key = _bootstrap_s3(topo.s3_endpoint, topo.bucket)
        patch.setenv("AWS_ACCESS_KEY_ID", access_key)
        patch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
        topo.secrets = (secret_key,)
        server_env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        roots = {
            "proxied-s3": f"s3://{topo.bucket}/proxied",
            "direct-s3": f"s3://{topo.bucket}/direct",
            "proxied-gcs": f"gs://{topo.gcs_bucket}/mlflow",
        }
        for mode in SERVER_MODES:
            port = services.free_port()
            proxied = mode.startswith("proxied")
            config = mlflow_server.ServerConfig(
                backend_store_uri=topo.database_uri,
                artifacts_destination=roots[mode] if proxied else None,
                default_artifact_root=None if proxied else roots[mode],
                port=port,
            )
            process = services.Service(f"mlflow server ({mode})", mlflow_server.server_command(config), server_env,
                                       log_dir / f"mlflow-{mode}.log", f"{config.url}/health")
            topo.servers[mode] = MlflowServer(mode, config, roots[mode], process)
            topo.processes.append(process.start())
        gcs.wait_ready(60)
        with ThreadPoolExecutor(len(SERVER_MODES)) as pool:
            list(pool.map(lambda s: s.process.wait_ready(READY_TIMEOUT), topo.servers.values()))
        ready = ", ".join(f"{p.name} {p.ready_seconds}s" for p in topo.processes)
        print(f"\nintegration topology ready in {time.monotonic() - started:.1f}s ({ready})", file=sys.stderr)
        yield topo
    finally:
        with ThreadPoolExecutor(max(1, len(topo.processes))) as pool:
            list(pool.map(lambda process: process.stop(), topo.processes))
        try:
            mlflow_server.drop_database(topo.database_uri)
        finally:
            patch.undo()
            signal.signal(signal.SIGTERM, previous_handler)


@pytest.fixture(scope="package")
def dataset_uris(topology, synthetic_csv):
    """The synthetic dataset at every kind of URI the load step accepts."""
    from churnops.storage import uris as storage

    body = synthetic_csv.read_bytes()
    topology.s3().put_object(Bucket=topology.bucket, Key="datasets/churn.csv", Body=body)
    gcs_uri = f"gs://{topology.gcs_bucket}/datasets/churn.csv"
    gcs_fs, path = storage.filesystem(gcs_uri)
    with gcs_fs.open(path, "wb") as stream:
        stream.write(body)
    handler = functools.partial(QuietHandler, directory=str(synthetic_csv.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {
        "local": str(synthetic_csv),
        "file": synthetic_csv.as_uri(),
        "http": f"http://127.0.0.1:{httpd.server_port}/{synthetic_csv.name}",
        "s3": f"s3://{topology.bucket}/datasets/churn.csv",
        "gs": gcs_uri,
    }
    httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, show the tail of every service log of the topology."""
    report = yield
    topo = item.funcargs.get("topology") if hasattr(item, "funcargs") else None
    if report.failed and topo is not None:
        for process in topo.processes:
            report.sections.append((f"{process.name} log (tail): {process.log_path}", process.log_tail()))
    return report
