"""The loopback git server Argo CD syncs from: `git daemon` serving a bare repository that holds a
snapshot of this checkout (its working tree, committed or not, as one commit) under the tag the
Applications pin (`v` + the chart's appVersion), so the bundle is synced exactly as it is here."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from scripts.cluster import pins, processes
from scripts.cluster.pins import ROOT


def base() -> Path:
    return pins.state() / "git"
REPO = "churnops.git"


def url(port: int) -> str:
    return f"git://127.0.0.1:{port}/{REPO}"


def start(port: int) -> None:
    bare = base() / REPO
    shutil.rmtree(base(), ignore_errors=True)
    subprocess.run(["git", "init", "--quiet", "--bare", str(bare)], check=True)
    processes.start("git-daemon", ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base()}",
                                   "--listen=127.0.0.1", f"--port={port}", str(base())])
    processes.wait_for("git daemon", lambda: processes.port_open(port), 20, "git-daemon")


def snapshot(tag: str) -> str:
    """Commit the working tree (tracked and untracked files, .gitignore respected) into the served
    repository, tagged `tag` (moved if it exists); returns the commit id. The checkout is untouched:
    a temporary index is used."""
    bare = base() / REPO
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(work) / "index"), "GIT_AUTHOR_NAME": "churnops cluster",
               "GIT_AUTHOR_EMAIL": "cluster@churnops.local", "GIT_COMMITTER_NAME": "churnops cluster",
               "GIT_COMMITTER_EMAIL": "cluster@churnops.local"}

        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                                  check=True).stdout.strip()

        git("add", "--all", ".")
        tree = git("write-tree")
        head = git("rev-parse", "HEAD")
        commit = git("commit-tree", tree, "-p", head, "-m", f"churnops cluster snapshot of {head[:12]} + working tree")
        git("push", "--quiet", "--force", str(bare), f"{commit}:refs/heads/main", f"{commit}:refs/tags/{tag}")
    return commit
