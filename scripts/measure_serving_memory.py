"""Peak memory of a real `churnops serve` replica under one very large request (issue 25: 127 MB).

    python scripts/measure_serving_memory.py --home HOME [--body-mb 127 48] [--serve-arg=--max-body-bytes=50331648]

HOME is a CHURNOPS_HOME whose embedded store has a `churn-classifier@champion` (e.g. after
`CHURNOPS_HOME=HOME churnops train --model-type logistic_regression`). For each body size, a fresh
`churnops serve` process on a free loopback port; once ready, its resident memory (VmRSS), then one v1
`:predict` request of that many MB of real rows (data/churn_synthetic.csv repeated, target dropped),
sent in 1 MB writes over http.client, then the process's peak resident memory (VmHWM, Linux), the
answer's status and whether /v2/health/ready still answers 200. The replica's limit in the bundle
is 1536 MiB (k8s/components/serving/inferenceservice.yaml). Prints one JSON line per size; asserts
nothing (numbers belong in reports).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "data" / "churn_synthetic.csv"
PATH = "/v1/models/churn-classifier:predict"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_mib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    raise KeyError(key)


def ready(port: int) -> int | str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return type(exc).__name__


def body_of(megabytes: float) -> bytes:
    with open(SOURCE, newline="") as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        row.pop("Churn", None)
    size = int(megabytes * 1e6)
    count = size // (len(json.dumps(rows[0])) + 2)
    return json.dumps({"instances": [rows[index % len(rows)] for index in range(count)]}).encode()


def post(port: int, body: bytes) -> int | str:
    """Send in 1 MB writes; a server that answers early (413) and closes is read, not an error."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    connection.putrequest("POST", PATH)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    try:
        for start in range(0, len(body), 1 << 20):
            connection.send(body[start:start + (1 << 20)])
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError as exc:
        return type(exc).__name__
    finally:
        connection.close()


def measure(home: str, megabytes: float, serve_args: list[str]) -> dict:
    port = free_port()
    log = Path(home) / f"serve-memory-{port}.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "-m", "churnops", "serve", "--port", str(port), *serve_args],
                                   env={**os.environ, "CHURNOPS_HOME": home}, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 300
        while ready(port) != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"churnops serve did not become ready:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        body = body_of(megabytes)
        before = memory_mib(process.pid, "VmRSS")
        started = time.monotonic()
        status = post(port, body)
        return {"body_mb": round(len(body) / 1e6, 1), "status": status, "seconds": round(time.monotonic() - started, 1),
                "rss_before_mib": before, "peak_mib": memory_mib(process.pid, "VmHWM"),
                "rss_after_mib": memory_mib(process.pid, "VmRSS"), "ready_after": ready(port), "serve_args": serve_args}
    finally:
        process.terminate()
        process.wait(60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="CHURNOPS_HOME with a champion in its embedded store")
    parser.add_argument("--body-mb", type=float, nargs="+", default=[127.0])
    parser.add_argument("--serve-arg", action="append", default=[], help="extra `churnops serve` argument (repeat)")
    args = parser.parse_args(argv)
    for megabytes in args.body_mb:
        print(json.dumps(measure(args.home, megabytes, args.serve_arg)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
