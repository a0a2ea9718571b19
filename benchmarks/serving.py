"""Online serving: `churnops serve` over loopback HTTP vs an in-process call of the same pyfunc on the same rows.

One model is trained once (single-model mode, logistic regression) into a temporary embedded store;
`churnops serve` (a real process on 127.0.0.1, a free port) loads its champion, and this process loads
the same version with mlflow.pyfunc.load_model. For 1-row and 100-row requests (rows resampled from
data/churn_synthetic.csv as text, target dropped): p50/p99 latency and requests/s over one kept-alive
HTTP connection (v1 `instances` and v2 tensors), the in-process predict on the same rows, and the
ratio served/in-process of the p50s. Then the resident memory of the replica (the server process).
Targets (a replica's budget, k8s/components/serving): single-row v1 p99 <= 50 ms; memory <= 768 MiB
(the predictor's memory request). Bounded: --requests per case, a deadline per case.

    python benchmarks/serving.py [--requests 300] [--rows 1 100]
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
import time
from pathlib import Path

import promote_to_serve
from benchlib import REPO, machine, print_table, verdict

SOURCE = REPO / "data" / "churn_synthetic.csv"
LATENCY_TARGET_MS = 50.0
MEMORY_TARGET_MIB = 768.0
CASE_DEADLINE_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def rss_mib(pid: int) -> float:
    """Resident memory of the process and its children (kserve runs one process for one worker)."""
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def wait_ready(port: int, process: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"churnops serve exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/v2/health/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"churnops serve not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def timed_requests(port: int, path: str, body: dict, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = json.dumps(body)
    seconds: list[float] = []
    deadline = time.monotonic() + CASE_DEADLINE_SECONDS
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        connection.request("POST", path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        seconds.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"POST {path} -> {response.status}: {data[:500]!r}")
    connection.close()
    return seconds


def timed_in_process(model, frame, count: int) -> list[float]:
    seconds: list[float] = []
    deadline = time.monotonic() + CASE_DEADLINE_SECONDS
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        model.predict(frame)
        seconds.append(time.perf_counter() - started)
    return seconds


def v2_body(frame) -> dict:
    return {"inputs": [{"name": column, "shape": [len(frame)], "datatype": "BYTES", "data": frame[column].tolist()}
                       for column in frame.columns]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per case (default: %(default)s)")
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 100], help="rows per request (default: 1 100)")
    args = parser.parse_args(argv)
    if args.requests < 10:
        parser.error("--requests must be >= 10 (p99 of fewer is meaningless)")

    import mlflow
    import pandas as pd

    from churnops.app import runs
    from churnops.registry.tracking import embedded_tracking_uri

    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        home = Path(folder)
        os.environ["CHURNOPS_HOME"] = str(home)
        trained = runs.train(str(SOURCE), home=home, model_type="logistic_regression")
        tracking_uri = embedded_tracking_uri(home)
        name, version = trained["model_name"], trained["model_version"]
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        source = pd.read_csv(SOURCE, dtype=str, keep_default_na=False).drop(columns=["Churn"])

        port = free_port()
        log = home / "serve.log"
        with open(log, "wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "churnops", "serve", "--model-uri", f"models:/{name}@champion",
                 "--tracking-uri", tracking_uri, "--port", str(port), "--poll-seconds", "30"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(os.environ))
        try:
            wait_ready(port, server, log)
            rows_out = []
            for size in args.rows:
                frame = source.sample(n=size, replace=size > len(source), random_state=size).reset_index(drop=True)
                instances = {"instances": frame.to_dict(orient="records")}
                timed_requests(port, f"/v1/models/{name}:predict", instances, 10)  # warm-up
                v1 = timed_requests(port, f"/v1/models/{name}:predict", instances, args.requests)
                v2 = timed_requests(port, f"/v2/models/{name}/infer", v2_body(frame), args.requests)
                local = timed_in_process(model, frame, args.requests)
                base = percentile(local, 0.5)
                for label, seconds in (("v1 HTTP", v1), ("v2 HTTP", v2), ("in-process pyfunc", local)):
                    p50, p99 = percentile(seconds, 0.5), percentile(seconds, 0.99)
                    rows_out.append([size, label, len(seconds), f"{p50 * 1000:.2f}", f"{p99 * 1000:.2f}",
                                     f"{len(seconds) / sum(seconds):.0f}", f"{p50 / base:.2f}"])
            memory = rss_mib(server.pid)
            reload_rows = promote_to_serve.measure(port, name, tracking_uri, source.iloc[0].to_dict(), 30.0)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        print_table("Online serving over loopback vs in-process predict (same pyfunc, same rows)",
                    ["rows/request", "path", "requests", "p50 ms", "p99 ms", "requests/s", "p50 / in-process p50"],
                    rows_out)
        single_v1_p99 = next(float(row[4]) for row in rows_out if row[0] == 1 and row[1] == "v1 HTTP") \
            if 1 in args.rows else None
        if single_v1_p99 is not None:
            print(f"single-row v1 p99: {single_v1_p99:.2f} ms, "
                  f"{verdict(single_v1_p99, LATENCY_TARGET_MS, higher_is_better=False)}")
        print(f"replica memory (RSS after the runs): {memory:.0f} MiB, "
              f"{verdict(memory, MEMORY_TARGET_MIB, higher_is_better=False)}")
        print_table("From a promote to the first answer of the new version (issue 27)",
                    ["how the server learns of the move", "moves", "min s", "max s"], reload_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
