"""Local service processes for the integration tests: start with a log file, wait for health, stop by group.

Every process runs in its own session (process group), so stopping it also stops what it forked
(uvicorn workers of `mlflow server`). Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, OSError):
        return False


class Service:
    """One long-running process with its output in `log_path` and a URL that answers when it is ready."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, health_url: str) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.health_url = health_url
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.ready_seconds: float | None = None

    def start(self) -> "Service":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.started_at = time.monotonic()
        self.ready_seconds = None
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, timeout: float) -> "Service":
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode} before it was ready; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if answers(self.health_url):
                self.ready_seconds = round(time.monotonic() - self.started_at, 1)
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.health_url} within {timeout:.0f} s; "
                           f"log {self.log_path}:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after `grace` seconds (0: SIGKILL at once)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        pgid = process.pid  # start_new_session: the leader's pid is the group id
        try:
            os.killpg(pgid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
            process.wait(timeout=grace or 10)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        try:
            os.killpg(pgid, signal.SIGKILL)  # also reaps forked workers that outlived the leader
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
