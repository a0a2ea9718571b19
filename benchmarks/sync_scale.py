"""How a no-op schedules sync scales: N declared recurring runs, already in sync, against the
local KFP API server (tests/support/kfp_server.py) driven by the real kfp.Client over HTTP.

For each N it applies the file once, then measures a second sync of the same file:
mutating calls (must be 0) and read calls (expected: 4 fixed lookups + one page of
recurring runs per `page size`, i.e. linear in N with slope 1/page size). Times are printed
as ratios against the smallest N measured in the same run; nothing here is asserted.

    .venv/bin/python benchmarks/sync_scale.py [--sizes 25 50 100 200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import sys
import tempfile
import time
from pathlib import Path

import yaml

from churnops.schedules.cli import build_parser, run
from churnops.schedules.kfp_api import PAGE_SIZE

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the KFP API double is test code: tests/support, not the package
from support.kfp_server import FakeKfpServer  # noqa: E402

SMALL_PAGE = 10


def schedules(count: int) -> dict:
    return {
        "scope": "bench",
        "platform": str(REPO / "config" / "platform" / "prod.yaml"),
        "defaults": {"experiment": "bench"},
        "experiments": [{"name": "bench"}],
        "pipelines": [{"name": "churn-training", "function": "training"}],
        "recurring_runs": [
            {"name": f"retrain-{index:03d}", "pipeline": "churn-training", "cron": f"0 {index % 60} 3 * * *",
             "parameters": {"dataset_uri": f"s3://bench/{index}.csv"}}
            for index in range(count)
        ],
    }


def measure(count: int, page_size: int, workdir: Path) -> dict:
    path = workdir / f"bench-{count}.yaml"
    path.write_text(yaml.safe_dump(schedules(count)), encoding="utf-8")
    with FakeKfpServer() as server:
        args = build_parser().parse_args(["--config", str(path), "--host", server.url])
        with contextlib.redirect_stdout(io.StringIO()):
            first = run(args, page_size=page_size)
            assert first == 3, f"first sync of {count} runs exited {first}"
            server.reset_calls()
            second = run(args, page_size=page_size)
            calls = {"code": second, "mutating": len(server.mutating_calls()), "reads": len(server.read_calls())}
            timings = []
            for _ in range(3):  # the best of three no-op syncs: less noise from the 2-core machine
                started = time.perf_counter()
                run(args, page_size=page_size)
                timings.append(time.perf_counter() - started)
        return {**calls, "seconds": min(timings), "runs": len(server.state.recurring_runs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100, 200])
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for count in args.sizes:
            default = measure(count, PAGE_SIZE, Path(workdir))
            small = measure(count, SMALL_PAGE, Path(workdir))
            rows.append((count, default, small))
    base = rows[0][1]["seconds"]
    print(f"No-op sync of N declared recurring runs (already applied); page size {PAGE_SIZE} "
          f"(and {SMALL_PAGE} to show the per-page growth)")
    print(f"{'N':>5} {'exit':>4} {'mutating':>8} {'reads':>6} {'expected':>8} {'reads@' + str(SMALL_PAGE):>9} "
          f"{'expected':>8} {'seconds':>8} {'time/base':>9}")
    ok = True
    for count, default, small in rows:
        expected = 4 + max(1, math.ceil(count / PAGE_SIZE))
        expected_small = 4 + max(1, math.ceil(count / SMALL_PAGE))
        ok &= default["mutating"] == 0 and small["mutating"] == 0 and default["code"] == 0
        print(f"{count:>5} {default['code']:>4} {default['mutating']:>8} {default['reads']:>6} {expected:>8} "
              f"{small['reads']:>9} {expected_small:>8} {default['seconds']:>8.2f} {default['seconds'] / base:>8.2f}x")
    print("reads = 1 healthz + 1 experiment + 1 pipeline + 1 version lookup + ceil(N / page size) pages")
    print("OK: zero mutating calls at every size" if ok else "FAIL: a no-op sync made mutating calls")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
