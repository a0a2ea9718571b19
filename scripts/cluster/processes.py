"""Owned processes: each has a pid file and a log file under .churnops/cluster/, and the order they
were started in is kept, so `down` stops them in reverse and is safe to run twice."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from scripts.cluster import pins


def run_dir() -> Path:
    return pins.state() / "run"


def logs_dir() -> Path:
    return pins.state() / "logs"


def order_file() -> Path:
    return run_dir() / "order.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each probe stays bound until all are chosen. A port can still be
    taken before its component binds it (an outbound connection gets one of the same range): the
    cluster tier's fixture tries `up` a second time after such a failure."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22): pid + this is unique."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def order() -> list[str]:
    return json.loads(order_file().read_text()) if order_file().exists() else []


def log_path(name: str) -> Path:
    return logs_dir() / f"{name}.log"


def log_tail(name: str, lines: int = 30) -> str:
    path = log_path(name)
    if not path.exists():
        return f"(no log {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def start(name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start argv in its own session (so `stop` reaches its children too), logging to logs/<name>.log."""
    run_dir().mkdir(parents=True, exist_ok=True)
    logs_dir().mkdir(parents=True, exist_ok=True)
    with open(log_path(name), "ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
    (run_dir() / f"{name}.pid").write_text(f"{process.pid} {start_time(process.pid)}")
    names = [n for n in order() if n != name] + [name]
    order_file().write_text(json.dumps(names))
    return process.pid


def pid_of(name: str) -> int | None:
    """The recorded process if it is still the one we started (pid reuse is checked), else None."""
    try:
        pid, started = (run_dir() / f"{name}.pid").read_text().split()
    except (OSError, ValueError):
        return None
    return int(pid) if start_time(int(pid)) == started else None


def alive(name: str) -> bool:
    pid = pid_of(name)
    if pid is None:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return False


def stop(name: str, grace: float = 10.0) -> str | None:
    """SIGTERM the process group, SIGKILL what is left after `grace` seconds. Returns what was done."""
    pid = pid_of(name)
    (run_dir() / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _group_alive(pid):
        time.sleep(0.2)
    how = "stopped"
    if _group_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        how = f"killed after {grace:.0f} s"
        while _group_alive(pid):
            time.sleep(0.1)
    return f"{name} (pid {pid}) {how}"


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def wait_for(what: str, ready: Callable[[], bool], timeout: float, process: str | None = None) -> None:
    """Poll `ready` until it is true; fail with the process's log tail if it died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process and not alive(process):
            raise SystemExit(f"churnops cluster: {process} exited while waiting for {what}; its log "
                             f"({log_path(process)}) ends with:\n{log_tail(process)}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.3)
    tail = f"; {process}'s log ({log_path(process)}) ends with:\n{log_tail(process)}" if process else ""
    raise SystemExit(f"churnops cluster: timed out after {timeout:.0f} s waiting for {what}{tail}")


def port_free_everywhere(port: int) -> bool:
    """Whether a listener on ":port" (every address, as Go's net.Listen binds it) can start now."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go sets it: TIME_WAIT does not count
        try:
            probe.bind(("", port))
        except OSError:
            return False
        return True


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0
