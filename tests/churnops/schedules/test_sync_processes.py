"""A second `churnops sync` in a NEW process makes zero API writes (issue 12, problem 1).

Each sync runs as its own interpreter (different PYTHONHASHSEED and working directory) against
the local KFP double over HTTP, the way the in-cluster Job runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.paths import REPO


def sync_in_new_process(config: Path, host: str, seed: str, cwd: Path) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "churnops", "sync", "--config", str(config), "--host", host],
                          cwd=cwd, env=env, capture_output=True, text=True)


def test_second_sync_in_a_new_process_makes_no_writes(kfp_server, write_schedules, schedules_doc, tmp_path):
    config = write_schedules(schedules_doc())
    first = sync_in_new_process(config, kfp_server.url, "1", tmp_path / "a")
    assert first.returncode == 3, first.stdout + first.stderr  # 3: changes applied
    kfp_server.reset_calls()
    second = sync_in_new_process(config, kfp_server.url, "2", tmp_path / "b" / "c")
    assert second.returncode == 0, second.stdout + second.stderr
    assert kfp_server.mutating_calls() == [], [str(call) for call in kfp_server.mutating_calls()]
    print(f"no-op sync in a new process: {len(kfp_server.read_calls())} reads, 0 writes")
