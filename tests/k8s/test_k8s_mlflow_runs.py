"""Run the rendered MLflow Deployment and migration of every overlay, and call it as its clients do.

For each environment the `mlflow` Deployment of `kubectl kustomize k8s/overlays/<env>` is started
locally with exactly its container command, args and env (pod_runner.resolve: values from the
rendered Secrets, test values for the Secrets created out of band), in a venv made from
docker/mlflow-server/requirements.txt, the image's install list. Swapped for local ones, and
nothing else: --host, --port, --workers, the backend store URI (a fresh database on the PostgreSQL
server this test run started, fixture `postgres`), the artifact destination (a local folder) and
the auth database; mounted volumes are local folders. The init container runs first, as the kubelet would.

Marker `integration` (a real PostgreSQL server, started by the run). Fails on main
(5803999): the requirements file did not exist, Host `...:5000` got 403 (defect 1), prod exited
without Flask-WTF / MLFLOW_FLASK_SERVER_SECRET_KEY (defect 2), /metrics answered 403 by pod IP and
401 without credentials (defect 6), concurrent upgrades failed (defect 7).
"""

from __future__ import annotations

import base64
import concurrent.futures
import secrets
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from k8s_helpers import build, find
from pod_runner import REQUIREMENTS, resolve, server_venv
from support.environments import ENVIRONMENTS

from churnops.app import mlflow_server

pytestmark = pytest.mark.integration

IN_CLUSTER_HOST = "mlflow.mlflow.svc.cluster.local:5000"  # what pipeline steps send
PORT_FORWARD_HOST = "localhost:5000"  # `kubectl -n mlflow port-forward svc/mlflow 5000:5000`
POD_IP_HOST = "10.8.3.17:5000"  # Prometheus scrapes a ServiceMonitor's targets by pod IP
READY_TIMEOUT = 180.0
ADMIN = ("admin", "test-admin-" + secrets.token_hex(8))


@pytest.fixture(scope="session")
def fresh_database(postgres):
    """fresh_database(prefix) -> the URI of a new, empty database, in the driver the rendered URIs name
    (postgresql+psycopg2, docs/kubernetes.md; SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3,
    which the image does not install)."""
    server = postgres.replace("postgresql://", "postgresql+psycopg2://", 1)

    def create(prefix: str) -> str:
        uri = f"{server}/{prefix}_{uuid.uuid4().hex[:10]}"
        mlflow_server.ensure_database(uri)
        return uri

    return create


@pytest.fixture(scope="session")
def venv() -> Path:
    started = time.monotonic()
    path = server_venv()
    print(f"server venv {path.name} ready in {time.monotonic() - started:.1f} s")
    return path


def call(url: str, host: str, auth: tuple[str, str] | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Host": host})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_healthy(process: subprocess.Popen, url: str, log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT:
        if process.poll() is not None:
            raise AssertionError(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"mlflow server not healthy within {READY_TIMEOUT} s:\n{log.read_text()[-4000:]}")


def external_values(objects: list[dict], backend: str, auth_db: str) -> dict[tuple[str, str], dict[str, str]]:
    """Test values for the Secrets k8s/external-resources.yaml says are created out of band."""
    ini = (f"[mlflow]\ndefault_permission = READ\ndatabase_uri = {auth_db}\n"
           f"admin_username = {ADMIN[0]}\nadmin_password = {ADMIN[1]}\n"
           "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    return {
        ("Secret", "mlflow-backend-store"): {"MLFLOW_BACKEND_STORE_URI": backend},
        ("Secret", "mlflow-basic-auth"): {"basic_auth.ini": ini},
        ("Secret", "mlflow-flask-secret-key"): {"MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32)},
        # the ServiceMonitor's scrape user: an MLflow user (here the admin from basic_auth.ini)
        ("Secret", "mlflow-metrics-auth"): {"username": ADMIN[0], "password": ADMIN[1]},
    }


class Server:
    def __init__(self, env: str, objects: list[dict], url: str, auth: bool, ready: float):
        self.env, self.objects, self.url, self.auth, self.ready = env, objects, url, auth, ready


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def server(request, venv, tmp_path_factory, fresh_database):
    env = request.param
    objects = build(f"k8s/overlays/{env}")
    deployment = find(objects, "Deployment", "mlflow", "mlflow")
    pod = deployment["spec"]["template"]["spec"]
    backend, auth_db = fresh_database(f"i11_{env}"), fresh_database(f"i11_{env}_auth")
    root = tmp_path_factory.mktemp(f"pod-{env}")
    external = external_values(objects, backend, auth_db)
    port = free_port()
    (server_container,) = [c for c in pod["containers"] if c["name"] == "mlflow"]
    args = server_container["args"]
    rendered = {a.split("=", 1)[0]: a for a in args if a.startswith("--")}
    swaps = {
        rendered["--host"]: "--host=127.0.0.1",
        rendered["--port"]: f"--port={port}",
        rendered["--workers"]: "--workers=1",
        rendered["--artifacts-destination"]: f"--artifacts-destination={(root / 'artifacts').as_uri()}",
    }
    processes = []
    try:
        for init in pod.get("initContainers", []):
            process = resolve(pod, init, objects, "mlflow", root, external, venv)
            process.env["MLFLOW_BACKEND_STORE_URI"] = swap_backend(process.env, backend)
            result = subprocess.run(process.argv, env=process.env, capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"init container {init['name']}: {result.stderr[-3000:]}"
        process = resolve(pod, server_container, objects, "mlflow", root, external, venv, swaps)
        process.env["MLFLOW_BACKEND_STORE_URI"] = swap_backend(process.env, backend)
        log = root / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(process.argv, env=process.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        processes.append(proc)
        url = f"http://127.0.0.1:{port}"
        ready = wait_healthy(proc, f"{url}/health", log)
        print(f"{env}: rendered mlflow Deployment healthy in {ready:.1f} s")
        yield Server(env, objects, url, "--app-name=basic-auth" in args, ready)
    finally:
        for proc in processes:
            stop(proc)
        mlflow_server.drop_database(backend)
        mlflow_server.drop_database(auth_db)


def swap_backend(env: dict[str, str], local: str) -> str:
    """The local database in place of the rendered one, same scheme (driver)."""
    rendered = env.get("MLFLOW_BACKEND_STORE_URI")
    assert rendered, "the rendered container has no MLFLOW_BACKEND_STORE_URI"
    assert rendered.split("://")[0] == local.split("://")[0], f"rendered driver {rendered.split('://')[0]}"
    return local


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    import os
    import signal
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def pipeline_credentials(server: Server) -> tuple[str, str] | None:
    """What pipeline steps send: MLFLOW_TRACKING_USERNAME/PASSWORD of Secret kubeflow/churnops-mlflow."""
    if not server.auth:
        return None
    return ADMIN  # prod's churnops-mlflow is external; its test value is the admin user of basic_auth.ini


SEARCH = "/api/2.0/mlflow/experiments/search?max_results=5"


@pytest.mark.parametrize("host", [IN_CLUSTER_HOST, PORT_FORWARD_HOST])
def test_the_api_answers_the_hosts_clients_send(server, host):
    status, body = call(server.url + SEARCH, host, pipeline_credentials(server))
    assert status == 200, f"{server.env} Host {host}: {status} {body[:200]!r}"
    status, body = call(server.url + "/api/2.0/mlflow/experiments/create", host, pipeline_credentials(server),
                        data=b'{"name": "churn-' + host.split(".")[0].encode() + b'"}')
    assert status == 200, f"{server.env} Host {host}: {status} {body[:200]!r}"


def test_an_unknown_host_is_still_refused(server):
    status, _ = call(server.url + SEARCH, "evil.example.com:5000", pipeline_credentials(server))
    assert status == 403


def test_basic_auth_refuses_anonymous_and_accepts_the_pipeline_user(server):
    if not server.auth:
        pytest.skip(f"{server.env} renders no --app-name=basic-auth")
    assert call(server.url + SEARCH, IN_CLUSTER_HOST)[0] == 401
    assert call(server.url + SEARCH, IN_CLUSTER_HOST, ("admin", "wrong-password"))[0] == 401
    assert call(server.url + SEARCH, IN_CLUSTER_HOST, ADMIN)[0] == 200


def test_metrics_answer_the_service_monitor_scrape(server):
    monitors = [o for o in server.objects if o["kind"] == "ServiceMonitor"]
    if not monitors:
        pytest.skip(f"{server.env} renders no ServiceMonitor")
    (endpoint,) = monitors[0]["spec"]["endpoints"]
    auth = None
    if "basicAuth" in endpoint:
        ref = endpoint["basicAuth"]
        values = external_values(server.objects, "", "")[("Secret", ref["username"]["name"])]
        auth = (values[ref["username"]["key"]], values[ref["password"]["key"]])
    status, body = call(server.url + endpoint["path"], POD_IP_HOST, auth)
    assert status == 200, f"{status} {body[:200]!r}"
    assert b"flask_http_request" in body or b"# TYPE" in body


def upgrade_processes(objects: list[dict], backend: str, root: Path, venv: Path) -> list:
    """The rendered migration: the hook Job's container and each replica's init container."""
    deployment = find(objects, "Deployment", "mlflow", "mlflow")
    pod = deployment["spec"]["template"]["spec"]
    runs = [(pod, c) for c in pod.get("initContainers", [])] * int(deployment["spec"].get("replicas", 1))
    for job in [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "mlflow-db-migrate"]:
        job_pod = job["spec"]["template"]["spec"]
        runs += [(job_pod, c) for c in job_pod["containers"]]
    processes = []
    for i, (spec, container) in enumerate(runs):
        process = resolve(spec, container, objects, "mlflow", root / str(i), {
            ("Secret", "mlflow-backend-store"): {"MLFLOW_BACKEND_STORE_URI": backend}}, venv)
        process.env["MLFLOW_BACKEND_STORE_URI"] = swap_backend(process.env, backend)
        processes.append(process)
    return processes


def run_concurrently(processes) -> list[subprocess.CompletedProcess]:
    def one(process):
        return subprocess.run(process.argv, env=process.env, capture_output=True, text=True, timeout=300)
    with concurrent.futures.ThreadPoolExecutor(len(processes)) as pool:
        return list(pool.map(one, processes))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_concurrent_migrations_on_a_fresh_database_all_succeed(env, venv, tmp_path, fresh_database):
    objects = build(f"k8s/overlays/{env}")
    backend = fresh_database(f"i11_{env}_migrate")
    try:
        processes = upgrade_processes(objects, backend, tmp_path, venv)
        # at least the Job and every replica; pad to 4 so a race has a real chance
        processes = (processes * 4)[:max(4, len(processes))]
        started = time.monotonic()
        results = run_concurrently(processes)
        print(f"{env}: {len(processes)} concurrent rendered migrations in {time.monotonic() - started:.1f} s")
        failed = [r.stderr[-1500:] for r in results if r.returncode != 0]
        assert not failed, f"{len(failed)} of {len(results)} failed:\n" + "\n---\n".join(failed)
    finally:
        mlflow_server.drop_database(backend)


# `mlflow db upgrade BACKEND`, started when the file GO exists: the CLI is imported first, so a loaded
# machine's uneven imports do not run the four migrations one after another (seen: none failed)
AT_ONCE = """
import pathlib, sys, time
from mlflow.cli import cli
ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.005)
cli.main(args=["db", "upgrade", sys.argv[3]], prog_name="mlflow")
"""


def test_plain_concurrent_mlflow_db_upgrade_races(venv, fresh_database, tmp_path):
    """The seeded mistake the wrapper fixes: main's `mlflow db upgrade` x4 at once on a fresh database."""
    backend = fresh_database("i11_race")
    go = tmp_path / "go"
    env = {"PATH": str(venv / "bin"), "HOME": "/tmp"}
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            started = [pool.submit(subprocess.run, [str(venv / "bin" / "python"), "-c", AT_ONCE,
                                                    str(tmp_path / f"ready-{n}"), str(go), backend],
                                   env=env, capture_output=True, text=True, timeout=300) for n in range(4)]
            deadline = time.monotonic() + 240
            while len(list(tmp_path.glob("ready-*"))) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            go.touch()
            results = [future.result() for future in started]
        assert len(list(tmp_path.glob("ready-*"))) == 4, [r.stderr[-500:] for r in results]
        assert any(r.returncode != 0 for r in results), "no concurrent plain upgrade failed: this test proves nothing"
    finally:
        mlflow_server.drop_database(backend)


def test_the_server_venv_is_made_from_the_image_requirements(venv):
    dockerfile = (REQUIREMENTS.parent / "Dockerfile").read_text()
    assert "pip install -r /opt/mlflow/requirements.txt" in dockerfile
    assert "COPY requirements.txt /opt/mlflow/requirements.txt" in dockerfile
    assert (venv / ".complete").read_text() in venv.name
