"""What the benchmarks share: timing a command in a fresh process, medians, and the printed table."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    """One line for benchmarks/README.md: date, CPU count, memory, Python, load at the start."""
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
            f"{memory_gib:.0f} GiB, Python {platform.python_version()}, load average {load:.1f} at start")


def run_measured(command: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> dict:
    """Run `command` to completion in a fresh wrapper process: wall seconds, peak RSS of the whole
    process tree (the largest process in it, KiB), stdout. Fails loudly if the command fails."""
    # The wrapper is a child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER): a descendant orphaned by
    # its parent's exit (the warm executor's forkserver outlives `churnops`, which ends with
    # os._exit) is re-parented to it and reaped by it, so RUSAGE_CHILDREN covers the step processes
    # the forkserver forked too. Without it their peak was not counted (the 2026-12-01 batch
    # numbers before this fix under-report churnops' peak). Wall time stops when the command exits.
    wrapper = (
        "import ctypes, os, resource, subprocess, sys, time\n"
        "if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:\n"
        "    raise OSError(ctypes.get_errno(), 'prctl(PR_SET_CHILD_SUBREAPER) failed')\n"
        "start = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - start\n"
        "while True:\n"
        "    try:\n"
        "        os.waitpid(-1, 0)\n"
        "    except ChildProcessError:\n"
        "        break\n"
        "sys.stderr.write(done.stderr)\n"
        "sys.stdout.write(done.stdout)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "sys.stdout.write(f'\\n@@measured {wall:.3f} {peak} {done.returncode}\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True,
                          env=env, cwd=cwd)
    *out, last = done.stdout.rstrip("\n").split("\n")
    _, wall, peak, code = last.split()
    if int(code) != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({code}):\n{done.stderr[-3000:]}")
    return {"wall": float(wall), "peak_kib": int(peak), "stdout": "\n".join(out).strip(), "stderr": done.stderr}


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """A Markdown table (paste it into benchmarks/README.md as is)."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n### {title}\n")
    for index, row in enumerate(cells):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    sys.stdout.flush()


def verdict(ratio: float, target: float, higher_is_better: bool) -> str:
    met = ratio >= target if higher_is_better else ratio <= target
    return f"{'met' if met else 'NOT met'} (target {'>=' if higher_is_better else '<='} {target})"


def elapsed(start: float) -> float:
    return time.perf_counter() - start


__all__ = ["REPO", "machine", "run_measured", "median", "print_table", "verdict", "elapsed", "resource"]
