"""Online serving: `churnops serve` vs `mlflow models serve` on the same registered versions, in one run.

Two models are trained into a temporary embedded store on the Telco file (../shared/data, else
data/churn_synthetic.csv; --data overrides): the default search's champion (a random forest on Telco)
and a logistic regression, each under its own model name. Servers, real processes on 127.0.0.1 with
one worker each:
  churnops serve        models:/NAME@champion (its compiled form)
  mlflow models serve   models:/NAME/N, the same version (MLflow's scoring server over the same pyfunc,
                        which scores with the same compiled form)
  mlflow models serve   (forest only) the same fitted pipeline logged without its compiled form: the
                        scikit-learn form every version was served with before the compiled form
Latency: for 1-row and 100-row requests (Telco rows as text, target dropped), --requests requests per
server over one kept-alive connection, the servers interleaved request by request: p50 and p99.
Two stand-ins price the layers under the model: a bare ASGI app on uvicorn and kserve's REST server
with a model that answers a constant, both sent the same single-row v1 body.
Throughput: 8 concurrent clients (threads, one kept-alive connection each), then 1, for --seconds per
server in 5 slices, the servers in turn in each slice: requests/s (the mean of the slices' rates).
Memory: each server's RSS after the runs. Breakdown: where one row's time goes in churnops serve's
own code, measured in this process on the loaded version.
Targets (issue 26): churnops single-row p50 <= 0.1x `mlflow models serve`'s on the same forest, p99
<= 10 ms; with 8 clients >= 10x its requests/s; replica memory no higher than before (414 MiB, the
2026-12-01 run; the predictor's request is 768 MiB).

    python benchmarks/serving.py [--requests 300] [--seconds 5] [--rows 1 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import promote_to_serve
from benchlib import REPO, machine, print_table, verdict

TELCO = REPO.parent / "shared" / "data" / "telco_customer_churn.csv"
SYNTHETIC = REPO / "data" / "churn_synthetic.csv"
TARGET = "Churn"
P50_RATIO_TARGET = 0.1
P99_TARGET_MS = 10.0
THROUGHPUT_RATIO_TARGET = 10.0
MEMORY_BEFORE_MIB = 414.0  # churnops serve's RSS in the 2026-12-01 serving.py run (benchmarks/README.md)
CASE_DEADLINE_SECONDS = 240.0
ROUNDS = 5  # throughput: each server's seconds in this many slices, servers in turn
READY_SECONDS = 240.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def rss_mib(pid: int) -> float:
    """Resident memory of the process and its children (both servers run one worker process here)."""
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


class Server:
    """One server process: how to start it, where it answers, how a request body looks."""

    def __init__(self, label: str, command: list[str], path: str, ready: str, body, log: Path, env: dict):
        self.label, self.path, self.ready_path, self.body = label, path, ready, body
        self.port = int(command[command.index("--port") + 1])
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, cwd=log.parent)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.label} exited {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", self.ready_path)
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.label} not ready after {READY_SECONDS:.0f} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def post(connection: http.client.HTTPConnection, server: Server, payload: bytes) -> float:
    started = time.perf_counter()
    connection.request("POST", server.path, payload, {"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"{server.label}: POST {server.path} -> {response.status}: {data[:500]!r}")
    return time.perf_counter() - started


def interleaved_latency(servers: list[Server], rows: list[dict], count: int) -> dict[str, list[float]]:
    """`count` requests to each server, one server after the other per round, one connection each."""
    payloads = {server.label: json.dumps(server.body(rows)).encode() for server in servers}
    connections = {server.label: http.client.HTTPConnection("127.0.0.1", server.port, timeout=60) for server in servers}
    seconds: dict[str, list[float]] = {server.label: [] for server in servers}
    for server in servers:  # warm-up: first requests load lazily built state
        for _ in range(5):
            post(connections[server.label], server, payloads[server.label])
    deadline = time.monotonic() + CASE_DEADLINE_SECONDS
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        for server in servers:
            seconds[server.label].append(post(connections[server.label], server, payloads[server.label]))
    for connection in connections.values():
        connection.close()
    return seconds


def throughput(server: Server, rows: list[dict], clients: int, seconds: float) -> float:
    """Requests/s answered to `clients` threads, each with its own kept-alive connection, for `seconds`."""
    payload = json.dumps(server.body(rows)).encode()
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        while time.monotonic() < stop:
            post(connection, server, payload)
            done[index] += 1
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def interleaved_throughput(servers: list[Server], rows: list[dict], seconds: float,
                           rounds: int = ROUNDS) -> dict[tuple[int, str], float]:
    """Requests/s per (clients, server) for 8 and 1 clients: `seconds` per server in `rounds` slices,
    the servers in turn in each round, so a burst of load elsewhere on the machine hits them alike."""
    answered: dict[tuple[int, str], float] = {}
    for _ in range(rounds):
        for clients in (8, 1):
            for server in servers:
                key = (clients, server.label)
                answered[key] = answered.get(key, 0.0) + throughput(server, rows, clients, seconds / rounds) / rounds
    return answered


def breakdown(model_uri: str, tracking_uri: str, rows: list[dict], count: int) -> list[list[str]]:
    """Median microseconds of each stage of churnops serve's own code for one request, in this process."""
    import mlflow
    import orjson

    from churnops.registry.loading import resolve
    from churnops.serving import predictor
    from churnops.serving.follower import load_version

    served = load_version(resolve(model_uri, mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)))
    model = predictor.ChurnPredictor(served.resolved.model_name, SimpleNamespace(served=served))
    body = orjson.dumps({"instances": rows})
    stages = {
        "JSON decode (orjson, kserve's)": lambda: orjson.loads(body),
        "columns from instances": lambda: predictor.rows_from_instances(orjson.loads(body)),
        "checks + typed columns": lambda: predictor.check_rows(predictor.rows_from_instances(orjson.loads(body)), served),
        "model (onnxruntime, with its feed)": None,
        "whole predict + JSON encode": lambda: orjson.dumps(model.predict(orjson.loads(body))),
    }
    typed = predictor.check_rows(predictor.rows_from_instances(orjson.loads(body)), served)
    stages["model (onnxruntime, with its feed)"] = lambda: served.scorer.churn_probability(typed)
    measured = []
    for label, call in stages.items():
        for _ in range(20):
            call()
        times = []
        for _ in range(count):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        measured.append([label, f"{percentile(times, 0.5) * 1e6:.0f}"])
    return measured


CONSTANT = {"predictions": [{"churn_probability": 0.5, "churn_predicted": 1, "model_name": "m", "model_version": "1"}],
            "model_version": "1"}


def constant_server(kind: str, port: int) -> None:
    """A stand-in that answers CONSTANT: "asgi" (uvicorn and a bare ASGI app) or "kserve" (its REST
    server and dataplane, as churnops serve starts them, around a model that does nothing)."""
    import asyncio

    import orjson
    import uvicorn

    if kind == "asgi":
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            if body:
                orjson.loads(body)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": orjson.dumps(CONSTANT)})

        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        return
    from kserve import Model
    from kserve.model_server import FASTAPI_APP_IMPORT_STRING, ModelServer
    from kserve.protocol.rest.server import RESTServer

    class Constant(Model):
        def predict(self, payload, headers=None):
            return CONSTANT

    model = Constant("m")
    model.ready = True
    server = ModelServer(http_port=port, enable_grpc=False, workers=1, enable_latency_logging=False)
    server.register_model(model)
    rest = RESTServer(FASTAPI_APP_IMPORT_STRING, server.dataplane, server.model_repository_extension, port, workers=1)
    rest.config.host = "127.0.0.1"
    asyncio.run(rest.start())


def train_models(source: Path, home: Path) -> dict[str, dict]:
    from churnops.app import runs

    forest = runs.train(str(source), home=home, model_name="bench-champion")  # the default search
    linear = runs.train(str(source), home=home, model_name="bench-logistic", model_type="logistic_regression")
    return {"forest": forest, "linear": linear}


def log_without_compiled_form(trained: dict, tracking_uri: str, source: Path) -> str:
    """The champion's fitted pipeline logged again, without its compiled form: what serving ran before."""
    import mlflow
    import pandas as pd

    from churnops.core.features import FeatureSpec
    from churnops.core.fitting import FittedModel
    from churnops.registry import models

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    uri = f"models:/{trained['model_name']}/{trained['model_version']}"
    champion = mlflow.pyfunc.load_model(uri)
    python_model = champion.unwrap_python_model()
    fitted = FittedModel(python_model.pipeline, FeatureSpec(**champion.metadata.metadata["feature_spec"]), None,
                         {"form": "sklearn", "reason": "benchmark: the same pipeline without its compiled form"})
    metadata = {**champion.metadata.metadata, "compiled": fitted.compiled_record}
    x_train = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""]).drop(columns=[TARGET])
    name = f"{trained['model_name']}-sklearn"
    with mlflow.start_run(run_name="bench-sklearn-form") as run:
        info = models.log_model(fitted, models.raw_example(x_train, fitted), metadata, name, run.info.run_id)
    version = mlflow.register_model(info.model_uri, name)
    return f"models:/{name}/{version.version}"


def v1_body(rows: list[dict]) -> dict:
    return {"instances": rows}


def mlflow_body(rows: list[dict]) -> dict:
    return {"dataframe_records": rows}


def start_servers(trained: dict[str, dict], sklearn_uri: str, tracking_uri: str, home: Path) -> list[Server]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri,
           # `mlflow models serve` execs uvicorn by name: this interpreter's bin first on PATH.
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    servers = []
    for kind, result in trained.items():
        name, version = result["model_name"], result["model_version"]
        servers.append(Server(
            f"churnops serve ({kind})",
            [sys.executable, "-m", "churnops", "serve", "--model-uri", f"models:/{name}@champion",
             "--tracking-uri", tracking_uri, "--port", str(free_port()), "--poll-seconds", "300"],
            f"/v1/models/{name}:predict", "/v2/health/ready", v1_body, home / f"churnops-{kind}.log", env))
        servers.append(_mlflow_server(f"mlflow models serve ({kind})", f"models:/{name}/{version}", env,
                                      home / f"mlflow-{kind}.log"))
    servers.append(_mlflow_server("mlflow models serve (forest, scikit-learn form)", sklearn_uri, env,
                                  home / "mlflow-forest-sklearn.log"))
    for kind, path, ready in (("asgi", "/", "/"), ("kserve", "/v1/models/m:predict", "/v2/health/ready")):
        servers.append(Server(f"stand-in: {kind}, constant answer", [sys.executable, str(Path(__file__).resolve()),
                              "--constant-server", kind, "--port", str(free_port())], path, ready, v1_body,
                              home / f"constant-{kind}.log", env))
    return servers


def _mlflow_server(label: str, model_uri: str, env: dict, log: Path) -> Server:
    mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
    return Server(label, [mlflow_cli, "models", "serve", "-m", model_uri, "--env-manager", "local", "--host", "127.0.0.1",
                          "--port", str(free_port()), "--workers", "1"], "/invocations", "/ping", mlflow_body, log, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per server and case (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per server of each throughput case")
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 100], help="rows per request (default: 1 100)")
    parser.add_argument("--data", type=Path, default=TELCO if TELCO.exists() else SYNTHETIC)
    parser.add_argument("--constant-server", choices=["asgi", "kserve"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.constant_server:
        constant_server(args.constant_server, args.port)
        return 0
    if args.requests < 10:
        parser.error("--requests must be >= 10 (p99 of fewer is meaningless)")

    import pandas as pd

    from churnops.registry.tracking import embedded_tracking_uri

    print(f"serving benchmark on {args.data.name}; {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        home = Path(folder)
        os.environ["CHURNOPS_HOME"] = str(home)
        started = time.perf_counter()
        trained = train_models(args.data, home)
        tracking_uri = embedded_tracking_uri(home)
        sklearn_uri = log_without_compiled_form(trained["forest"], tracking_uri, args.data)
        print(f"trained and registered in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{kind} = {r['model_name']} v{r['model_version']}" for kind, r in trained.items()))
        source = pd.read_csv(args.data, dtype=str, keep_default_na=False).drop(columns=[TARGET])
        servers = start_servers(trained, sklearn_uri, tracking_uri, home)
        try:
            for server in servers:
                server.wait_ready()
            latency_rows, throughput_rows = [], []
            results: dict[tuple[int, str], tuple[float, float]] = {}
            for size in args.rows:
                rows = source.sample(n=size, replace=size > len(source), random_state=size).to_dict(orient="records")
                seconds = interleaved_latency(servers, rows, args.requests)
                for server in servers:
                    p50, p99 = percentile(seconds[server.label], 0.5), percentile(seconds[server.label], 0.99)
                    results[(size, server.label)] = (p50, p99)
                    latency_rows.append([size, server.label, len(seconds[server.label]), f"{p50 * 1000:.2f}",
                                         f"{p99 * 1000:.2f}"])
            one_row = source.head(1).to_dict(orient="records")
            rates = interleaved_throughput(servers, one_row, args.seconds)
            for server in servers:
                throughput_rows.append([server.label, f"{rates[(1, server.label)]:.0f}", f"{rates[(8, server.label)]:.0f}",
                                        f"{rss_mib(server.process.pid):.0f}"])
            forest = trained["forest"]
            profile = breakdown(f"models:/{forest['model_name']}@champion", tracking_uri, one_row, args.requests)
        finally:
            for server in servers:
                server.stop()
        # Issue 27: from a promote to the first answer of the new version, with the alias-moved event
        # and without (the poll), on a server of its own whose poll is 30 s.
        forest, port = trained["forest"], free_port()
        reloading = Server("churnops serve (poll 30 s)", [
            sys.executable, "-m", "churnops", "serve", "--model-uri", f"models:/{forest['model_name']}@champion",
            "--tracking-uri", tracking_uri, "--port", str(port), "--poll-seconds", "30"],
            f"/v1/models/{forest['model_name']}:predict", "/v2/health/ready", v1_body, home / "churnops-reload.log",
            {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri})
        try:
            reloading.wait_ready()
            reload_rows = promote_to_serve.measure(port, forest["model_name"], tracking_uri, one_row[0], 30.0)
        finally:
            reloading.stop()
    print_table("Latency over loopback HTTP, servers interleaved request by request (same versions)",
                ["rows/request", "server", "requests", "p50 ms", "p99 ms"], latency_rows)
    print_table("Single-row requests/s with 1 and 8 concurrent clients, and memory after the runs",
                ["server", "1 client req/s", "8 clients req/s", "RSS MiB"], throughput_rows)
    print_table("Where one row's time goes in churnops serve's own code (forest, in-process, median)",
                ["stage", "microseconds"], profile)
    print_table("From a promote to the first answer of the new version (issue 27)",
                ["how the server learns of the move", "moves", "min s", "max s"], reload_rows)
    print()
    for kind in trained:
        ours, peer = f"churnops serve ({kind})", f"mlflow models serve ({kind})"
        peers = [peer] + (["mlflow models serve (forest, scikit-learn form)"] if kind == "forest" else [])
        if 1 in args.rows:
            for other in peers:
                ratio = results[(1, ours)][0] / results[(1, other)][0]
                print(f"{kind}: single-row p50 {results[(1, ours)][0] * 1000:.2f} ms = {ratio:.3f}x {other}: "
                      f"{verdict(ratio, P50_RATIO_TARGET, higher_is_better=False)}")
            print(f"{kind}: single-row p99 {results[(1, ours)][1] * 1000:.2f} ms: "
                  f"{verdict(results[(1, ours)][1] * 1000, P99_TARGET_MS, higher_is_better=False)}")
        for other in peers:
            ratio = rates[(8, ours)] / rates[(8, other)]
            print(f"{kind}: 8 clients {rates[(8, ours)]:.0f} req/s = {ratio:.1f}x {other}: "
                  f"{verdict(ratio, THROUGHPUT_RATIO_TARGET, higher_is_better=True)}")
    memory = max(float(row[3]) for row in throughput_rows if row[0].startswith("churnops"))
    print(f"churnops serve memory (largest replica): {memory:.0f} MiB vs {MEMORY_BEFORE_MIB:.0f} before: "
          f"{verdict(memory, MEMORY_BEFORE_MIB, higher_is_better=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
