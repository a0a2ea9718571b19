"""Run a KFP pipeline with KFP's local runner, quietly: logs to a file, progress to stderr.

`kfp.local` prints every step's output to stdout. The CLI promises stdout holds only its
result (one JSON object with --json), so the run's stdout goes to a log file under the
churnops home; a line per step goes to stderr; a failed step's churnops error is lifted
out of the log into the raised error.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import io
import json
import logging
import os
import re
import sys
import threading
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TextIO

from kfp import local
from kfp.dsl.graph_component import GraphComponent

from churnops import cpus, names
from churnops.app import warm_executor
from churnops.core import run_time
from churnops.errors import ChurnopsError
from pipelines.platform import for_local_runner

LOCAL_PARALLEL_TASKS = 2  # kfp.local's cap on tasks at once (see run_locally)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# kfp.local internals relied on (kfp 2.17.3): the wording of its INFO log lines. If it changes,
# progress lines stop appearing on stderr (tests/churnops/app/test_local_runner.py fails); the
# run itself and its result are unaffected.
STARTED = re.compile(r"Executing task '([\w-]+)'")
FINISHED = re.compile(r"Task '([\w-]+)' finished with status (\w+)")
# kfp.local logs a finished task's outputs after its status line: `Task 'x' outputs:`, then
# `    Output: {...}` (a dict output as its Python repr). A search family's output starts with its
# model_type, which names the family on the finish line of tasks that run in a ParallelFor.
OUTPUTS = re.compile(r"Task '([\w-]+)' outputs:")
OUTPUT_FAMILY = re.compile(r"^\s+Output: \{'model_type': '([\w-]+)'")
# A step's own progress line (names.PROGRESS_PREFIX): forwarded to stderr as it comes.
STEP_PROGRESS = re.compile(re.escape(names.PROGRESS_PREFIX) + r"(.+)$")
# The last line of a failed step's traceback when churnops raised a user-facing error.
STEP_ERROR = re.compile(r"^\s*churnops\.errors\.(\w+): (.+)$")
OTHER_ERROR = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")


class ProgressLog(io.TextIOBase):
    """A stdout stand-in: keeps the full log in a file, reports step starts/ends on `progress`."""

    def __init__(self, log_file: TextIO, progress: TextIO, verbose: bool) -> None:
        self.log_file = log_file
        self.progress = progress
        self.verbose = verbose
        # A ParallelFor runs several tasks of one name at once: a queue of start times per name.
        self.started: dict[str, list[float]] = {}
        self._pending = ""
        self._finished: list[str] = []  # a finish line waiting for the task's outputs (its family), then the line
        # kfp.local runs a ParallelFor's tasks in threads that print here at once. A TextIOWrapper is
        # not thread-safe: concurrent writes put bytes of freed memory into the run log (seen: pointer
        # values after a step's traceback, so reading the log back for the error failed on invalid
        # UTF-8). One writer at a time.
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self.log_file.write(text)
            if self.verbose:
                self.progress.write(text)
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._on_line(ANSI.sub("", line))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.log_file.flush()
            self.progress.flush()

    def _on_line(self, line: str) -> None:
        if self.verbose:
            return
        if self._finished:
            if OUTPUTS.search(line) and len(self._finished) == 1:
                self._finished.append(line)
                return
            family = OUTPUT_FAMILY.match(line) if len(self._finished) == 2 else None
            self.finish_pending(f" {family.group(1)}" if family else "")
            if family:
                return
        if match := STARTED.search(line):
            self.started.setdefault(match.group(1), []).append(time.monotonic())
            self.progress.write(f"churnops: {match.group(1)} ...\n")
        elif match := STEP_PROGRESS.search(line):
            self.progress.write(f"churnops:   {match.group(1).strip()}\n")
        elif match := FINISHED.search(line):
            name, status = match.groups()
            starts = self.started.get(name) or [time.monotonic()]
            seconds = time.monotonic() - starts.pop(0)
            self._finished = [f"churnops: {name}{{family}} {status.lower()} ({seconds:.1f}s)\n"]
        self.progress.flush()

    def finish_pending(self, family: str = "") -> None:
        """Write a held finish line, with the family a search task scored (`score-model-family random_forest`)."""
        if self._finished:
            self.progress.write(self._finished[0].format(family=family))
            self._finished = []
            self.progress.flush()


def step_error(log_text: str) -> str | None:
    """The message of the error that failed a step, preferring churnops' own errors."""
    lines = [ANSI.sub("", line) for line in log_text.splitlines()]
    for pattern in (STEP_ERROR, OTHER_ERROR):
        for line in reversed(lines):
            if match := pattern.match(line):
                return match.group(2).strip()
    return None


@functools.lru_cache(maxsize=None)
def local_variant(pipeline: Callable[..., Any]) -> Callable[..., Any]:
    """The pipeline as kfp.local can run it: cluster-only placeholders left empty
    (pipelines.platform.for_local_runner); built once per pipeline in a process."""
    return for_local_runner(pipeline) if isinstance(pipeline, GraphComponent) else pipeline


def run_locally(
    pipeline: Callable[..., Any],
    arguments: dict[str, Any],
    home: Path,
    *,
    verbose: bool = False,
    progress: TextIO | None = None,
    executor: str | None = None,
    result_task: str | None = None,
) -> Any:
    """Run `pipeline(**arguments)` in subprocesses of this interpreter; return its output.

    `executor`: "warm" (each step forked from a pre-imported forkserver, churnops.app.warm_executor)
    or "subprocess" (kfp.local's plain SubprocessRunner); default $CHURNOPS_LOCAL_EXECUTOR, else
    defaults.LOCAL_EXECUTOR.

    `result_task`: return the `Output` of that task (its component's name) instead. A pipeline
    whose body sits in a dsl.ExitHandler cannot return a task's output (kfp 2.17.3
    compiler/pipeline_spec_builder.py validate_pipeline_outputs_dict: "Pipeline outputs may only
    be returned from the top level"), so the local run reads it where kfp.local wrote it.
    """
    executing = warm_executor.warm() if warm_executor.executor_name(executor) == "warm" else contextlib.nullcontext()
    progress = progress or sys.stderr
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    log_path = home / "logs" / f"{pipeline.name}-{stamp}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # One folder per run, so the run's task outputs are found without guessing kfp.local's timestamp.
    run_root = home / "local_outputs" / f"{stamp}-{os.getpid()}"
    # The search's family tasks size their thread pools by it (churnops.cpus.cpu_budget):
    # kfp 2.17.3 runs at most two ParallelFor tasks at once (kfp/local/orchestrator/
    # enhanced_dag_orchestrator.py, conservative_max = 2 in ParallelExecutor.__init__).
    os.environ[cpus.ENV_CONCURRENT_TASKS] = str(LOCAL_PARALLEL_TASKS)
    # {scheduled_time} of this run's output URIs, the same in every step (churnops.core.run_time)
    os.environ[names.ENV_RUN_TIME] = datetime.now(timezone.utc).strftime(run_time.FORMAT)
    local.init(
        # use_venv=False: steps run in this interpreter, where churnops and kfp are installed,
        # so no step pip-installs anything (the components set install_kfp_package=False).
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(run_root),
        raise_on_error=True,
    )
    # kfp.local indents step output by swapping builtins.print; tasks of a ParallelFor run in
    # threads, so the swaps interleave and can leave an indenting print behind after the run
    # (the CLI's JSON line then starts with spaces). Put the real one back whatever happens.
    # kfp 2.17.3 kfp/local/logging_utils.py local_logger_context() swaps the root logger's handlers
    # for one writing to sys.stdout (here: this run's ProgressLog) and puts back the ones it saw;
    # two task threads saving and restoring in turn can leave that handler on the root logger after
    # the run, and the next log record anywhere in the process then fails on the closed log file
    # ("--- Logging error --- ... I/O operation on closed file"). Restore the root logger too.
    real_print = builtins.print
    root = logging.getLogger()
    real_handlers, real_level = root.handlers[:], root.level
    with open(log_path, "w", encoding="utf-8") as log_file:
        stream = ProgressLog(log_file, progress, verbose)
        try:
            with executing, contextlib.redirect_stdout(stream), warnings.catch_warnings():
                # Expected in local mode and said once in the README: display names are a UI
                # feature, and the steps deliberately run in this interpreter, not the image.
                warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
                warnings.filterwarnings("ignore", message=".*custom or non-Python base image.*")
                task = local_variant(pipeline)(**arguments)
        except RuntimeError as exc:
            stream.flush()
            # errors="replace": a step's own output need not be UTF-8; the error line is found anyway
            detail = step_error(log_path.read_text(encoding="utf-8", errors="replace")) or str(exc)
            raise ChurnopsError(f"{detail} (pipeline {pipeline.name} failed; full log: {log_path})") from exc
        finally:
            stream.finish_pending()
            builtins.print = real_print
            root.handlers[:] = real_handlers
            root.setLevel(real_level)
    return task.output if result_task is None else task_output(run_root, result_task)


def task_output(run_root: Path, component: str) -> Any:
    """The `Output` parameter a task of this run returned, read from its executor output file.

    kfp.local internals relied on (kfp 2.17.3): a task's folder is
    <pipeline_root>/<pipeline name>-<timestamp>/<component name without comp->
    (kfp/local/executor_input_utils.py construct_local_task_root, get_local_pipeline_resource_name,
    get_local_task_resource_name) and the executor writes its outputs to `executor_output.json`
    there (construct_executor_input's output_file), return value under parameterValues.Output.
    If that layout changes, every local run fails here naming the file (tests/e2e cover it).
    """
    runs = [folder for folder in run_root.iterdir() if folder.is_dir()] if run_root.is_dir() else []
    path = runs[0] / component / "executor_output.json" if len(runs) == 1 else run_root / "?" / component
    try:
        return json.loads(path.read_text(encoding="utf-8"))["parameterValues"]["Output"]
    except (OSError, ValueError, KeyError) as exc:
        raise ChurnopsError(f"The local run finished but its {component} result is not in {path} ({exc}); "
                            "kfp.local's output layout may have changed (pinned: kfp 2.17.3).") from exc
