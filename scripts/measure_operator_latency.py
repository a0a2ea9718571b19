"""How long an operator waits: the first output line of each command, `models list|show|history`, a refused server.

    python scripts/measure_operator_latency.py --home DIR [--runs 3] [--json]

--home: a CHURNOPS_HOME whose embedded store has a registered `churn-classifier` with a champion
(e.g. the one `make run` leaves in ./.churnops). Every command runs as the user runs it (the
`churnops` console script of this interpreter's venv, a fresh process, the store untouched by
the measurement: read-only commands only, and `train`/`predict`/`serve` are stopped as soon as they
printed their first line). Each figure is the median of --runs.

- first line: from the process start to the first byte on stdout or stderr;
- done: from the process start to its exit (read-only commands), and the CPU seconds it used (user +
  system: on a shared machine wall times stretch with the load, CPU seconds much less);
- refused: `models list` and `train` with `--tracking-uri http://127.0.0.1:<a closed port>`, to exit;
- `models list (no cache)` deletes $CHURNOPS_HOME/cache/champion-rows-scores.json before each run
  (the scores of every version on the champion's rows are then computed again).

To measure another checkout's code with this script: PYTHONPATH=<its source tree> (the venv's
editable install is found after PYTHONPATH).

Asserts nothing (timings belong in reports; the tests assert the bounds that matter with margins).
The machine may be shared: say so next to the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def churnops_command() -> str:
    return str(Path(sys.executable).with_name("churnops"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the socket is: a refused connection


def timed(argv: list[str], env: dict[str, str], *, stop_after_first_line: bool, timeout: float = 300) -> dict:
    """Run one command; seconds to its first output byte and (unless stopped then) to its exit."""
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    first = None
    output = b""
    with selectors.DefaultSelector() as selector:
        for stream in (process.stdout, process.stderr):
            selector.register(stream, selectors.EVENT_READ)
        open_streams = 2
        while open_streams and time.monotonic() - started < timeout:
            for key, _ in selector.select(timeout=0.05):
                chunk = os.read(key.fileobj.fileno(), 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if first is None:
                    first = time.monotonic() - started
                output += chunk
            if first is not None and stop_after_first_line:
                break
    if stop_after_first_line:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it had ended
    _, status, usage = os.wait4(process.pid, 0)  # not Popen.poll/wait: they would reap it without its rusage
    process.returncode = code = os.waitstatus_to_exitcode(status)
    done = None if stop_after_first_line else time.monotonic() - started
    return {"first_line": first, "done": done, "exit": code, "cpu": usage.ru_utime + usage.ru_stime,
            "first_text": output.decode(errors="replace").splitlines()[0] if output.strip() else ""}


def measurements(home: Path) -> dict[str, tuple[list[str], bool]]:
    """name -> (churnops arguments, stop after the first line)."""
    port = closed_port()
    return {
        "--help": (["--help"], False),
        "models list (no cache)": (["models", "list"], False),
        "models list": (["models", "list"], False),
        "models list --no-rescore": (["models", "list", "--no-rescore"], False),
        "models show": (["models", "show"], False),
        "models history": (["models", "history"], False),
        "models compare": (["models", "compare"], True),
        "train": (["train"], True),
        "predict": (["predict", "--input", "data/churn_synthetic.csv", "--output", str(home / "measure.csv")], True),
        "serve": (["serve", "--port", str(closed_port())], True),
        "compile": (["compile", "--output-dir", str(home / "measure-pipelines")], True),
        "refused: models list": (["models", "list", "--tracking-uri", f"http://127.0.0.1:{port}"], False),
        "refused: train": (["train", "--tracking-uri", f"http://127.0.0.1:{port}"], False),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="CHURNOPS_HOME with a registered churn-classifier")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="measure only these names")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    env = {key: value for key, value in os.environ.items() if key != "CHURNOPS_TRACKING_WAIT_SECONDS"}
    env["CHURNOPS_HOME"] = str(args.home.resolve())
    results = {}
    for name, (arguments, stop) in measurements(args.home.resolve()).items():
        if args.only and name not in args.only:
            continue
        runs = []
        for _ in range(args.runs):
            if name == "models list (no cache)":
                (args.home / "cache" / "champion-rows-scores.json").unlink(missing_ok=True)
            runs.append(timed([churnops_command(), *arguments], env, stop_after_first_line=stop))
        result = {"first_line_s": round(statistics.median(r["first_line"] or float("nan") for r in runs), 2),
                  "exit": sorted({r["exit"] for r in runs}), "first_text": runs[-1]["first_text"][:160]}
        if not stop:
            result["done_s"] = round(statistics.median(r["done"] for r in runs), 2)
            result["cpu_s"] = round(statistics.median(r["cpu"] for r in runs), 2)
        results[name] = result
        if not args.json:
            print(f"{name:<26} first line {result['first_line_s']:>6.2f} s"
                  + (f"  done {result['done_s']:>6.2f} s (cpu {result['cpu_s']:.2f} s)" if "done_s" in result else "")
                  + f"  exit {result['exit']}  | {result['first_text']}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
