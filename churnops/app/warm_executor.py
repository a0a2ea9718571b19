"""A warm executor for local runs: each KFP step runs in a process forked from a pre-imported one.

kfp.local's SubprocessRunner starts every step as a fresh interpreter (`sh -ec <script> <source>
--executor_input ... --function_to_execute ...`, the script writing the source to a file and
running `python -m kfp.dsl.executor_main` on it). Each such process paid ~2.9 s before any work
(interpreter, pandas, scikit-learn, MLflow imports) measured on this machine (issue 15). Here a
multiprocessing *forkserver* (a clean interpreter that imported every step module once, before it
opened anything or started a thread of ours) forks one child per step; the child does what the
script does (the same source file, the same argv, `_KFP_RUNTIME=true`, the environment kfp.local
would give it, `kfp.dsl.executor_main` run as `__main__`) and ends the way a normal process ends
(exit handlers, then its exit status). So every step still is its own process running the KFP IR
task with real artifacts; only the imports are shared, read-only, from before the fork.

The plain SubprocessRunner path stays selectable (CHURNOPS_LOCAL_EXECUTOR=subprocess, or
executor="subprocess" in run_locally) and is what runs for any command this module does not
recognise exactly.

KFP internals relied on (kfp 2.17.3), each checked at every call, falling back to the plain path:
- kfp/local/subprocess_task_handler.py: SubprocessTaskHandler.run() calls the module function
  `run_local_subprocess(full_command=..., env_vars=...)` and maps its return code to a status;
  `warm()` swaps that module attribute for the duration of one local run.
- kfp/dsl/component_factory.py `_get_command_and_args_for_lightweight_component`: the command is
  `['sh', '-ec', SCRIPT, SOURCE]` and SCRIPT is the template matched by LIGHTWEIGHT_SCRIPT below
  (kfp.local's replace_python_executable has put this interpreter in place of `python3`).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import pkgutil
import re
import runpy
import shutil
import sys
import tempfile
import threading
from typing import Iterator

from churnops import defaults
from churnops.errors import ChurnopsError
from churnops.steps import runtime

EXECUTORS = ("warm", "subprocess")
ENV_EXECUTOR = "CHURNOPS_LOCAL_EXECUTOR"
LIGHTWEIGHT_SCRIPT = re.compile(
    r'program_path=\$\(mktemp -d\)\n\n'
    r'printf "%s" "\$0" > "\$program_path/ephemeral_component\.py"\n'
    r'_KFP_RUNTIME=true (?P<python>\S+) -m kfp\.dsl\.executor_main\s+'
    r'--component_module_path\s+"\$program_path/ephemeral_component\.py"\s+"\$@"\n?'
)
# What the forkserver imports once: what every step imports (MLflow, scikit-learn, pandas, KFP's
# executor) through the step modules themselves, so a new step is covered without a list to edit.
PRELOAD = ["kfp.dsl.executor_main", "churnops.steps"]


# What steps import inside functions, so importing the step modules misses it: the SQL stores
# MLflow opens for a sqlite:// or postgresql:// tracking URI (~1.2 s: SQLAlchemy models, alembic),
# and pyplot for evaluate_model's plots (~0.7 s). Imported once here instead of in every step.
LAZY_IMPORTS = ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store",
                "matplotlib.pyplot")


def in_forkserver() -> bool:
    """True in the multiprocessing forkserver process (it runs `python -c "from multiprocessing.forkserver ..."`)."""
    return sys.argv[:1] == ["-c"] and "multiprocessing.forkserver" in sys.modules


def _quiet_forkserver() -> None:
    """In the forkserver itself: its imports warn (MLflow's type-hint notice) on the stdio it
    inherited, the user's terminal; each step's own output goes through its pipe instead."""
    if in_forkserver():
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)


def _import_lazy_modules() -> None:
    """In the forkserver: LAZY_IMPORTS, with matplotlib on its file-only backend first (what
    churnops.core.evaluation selects too); nothing is opened or started."""
    if not in_forkserver():
        return
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    for name in LAZY_IMPORTS:
        importlib.import_module(name)


_quiet_forkserver()
_import_lazy_modules()
_context_lock = threading.Lock()
_context: multiprocessing.context.BaseContext | None = None


def executor_name(requested: str | None = None) -> str:
    name = requested or os.environ.get(ENV_EXECUTOR) or defaults.LOCAL_EXECUTOR
    if name not in EXECUTORS:
        raise ChurnopsError(f"{ENV_EXECUTOR}={name!r} is not a local executor: use one of {', '.join(EXECUTORS)} "
                            "(warm forks each step from a pre-imported process; subprocess starts a fresh "
                            "interpreter per step).")
    return name


def step_modules() -> list[str]:
    import churnops.steps as steps

    return [*PRELOAD, *(f"churnops.steps.{m.name}" for m in pkgutil.iter_modules(steps.__path__))]


def context() -> multiprocessing.context.BaseContext:
    """The process-wide forkserver context, started (in the background) on first use."""
    global _context
    with _context_lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            # the forkserver imports each of these before it forks (multiprocessing/forkserver.py
            # main(): `__import__` of each preload name, ImportError ignored)
            ctx.set_forkserver_preload([__name__, *step_modules()])
            _context = ctx
        return _context


def start() -> None:
    """Start the forkserver now, so its imports overlap the parent's own work (idempotent)."""
    from multiprocessing import forkserver

    context()
    threading.Thread(target=forkserver.ensure_running, daemon=True, name="churnops-forkserver").start()


def start_if_warm() -> None:
    """start() when local runs will use the warm executor (a wrong CHURNOPS_LOCAL_EXECUTOR fails here, first)."""
    if executor_name() == "warm":
        start()


def _child(source: str, args: list[str], env: dict[str, str], cwd: str, output) -> None:
    """In the forked child: what the lightweight-component script does, then a normal exit."""
    fd = output.fileno()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    output.close()
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    os.environ.clear()
    os.environ.update(env)
    os.environ["_KFP_RUNTIME"] = "true"
    os.chdir(cwd)
    runtime.mark_forked_step()
    program_path = tempfile.mkdtemp()
    module_path = os.path.join(program_path, "ephemeral_component.py")
    with open(module_path, "w") as handle:
        handle.write(source)
    sys.argv = [module_path, "--component_module_path", module_path, *args]
    code = 0
    try:
        runpy.run_module("kfp.dsl.executor_main", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - what an uncaught exception does in a process: report, status 1
        sys.excepthook(*sys.exc_info())
        code = 1
    # A normal exit: exit handlers (MLflow ends an active run; churnops.steps.runtime's own ends
    # the process with the step's status), then the status. CPython internal relied on:
    # atexit._run_exitfuncs() runs the registered handlers now, as interpreter exit would.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    shutil.rmtree(program_path, ignore_errors=True)
    os._exit(code)


def parse(full_command: list[str]) -> tuple[str, list[str]] | None:
    """(component source, executor args) when `full_command` is exactly a lightweight component
    run with this interpreter; None for anything else (which then runs the plain way)."""
    if len(full_command) < 4 or full_command[:2] != ["sh", "-ec"]:
        return None
    match = LIGHTWEIGHT_SCRIPT.fullmatch(full_command[2])
    if match is None or match.group("python") != sys.executable:
        return None
    return full_command[3], list(full_command[4:])


def run_task(full_command: list[str], env_vars: dict[str, str] | None = None, *, fallback) -> int:
    """kfp.local's run_local_subprocess contract: stream the step's output, return its exit code."""
    parsed = parse(full_command)
    if parsed is None:
        return fallback(full_command=full_command, env_vars=env_vars)
    source, args = parsed
    ctx = context()
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(source, args, {**os.environ, **(env_vars or {})}, os.getcwd(), writer),
                          name="churnops-step")
    process.start()
    writer.close()
    with os.fdopen(os.dup(reader.fileno()), "r", encoding="utf-8", errors="replace") as lines:
        reader.close()
        for line in lines:
            print(line, end="")
    print("\n")  # what run_local_subprocess prints after a step's output
    process.join()
    code = process.exitcode
    return code if code >= 0 else 128 - code  # killed by signal N: the shell's 128 + N


@contextlib.contextmanager
def warm() -> Iterator[None]:
    """Within: kfp.local's subprocess tasks run through run_task (see the module docstring)."""
    from kfp.local import subprocess_task_handler

    original = subprocess_task_handler.run_local_subprocess
    start()

    def dispatch(full_command, env_vars=None):
        return run_task(full_command, env_vars, fallback=original)

    subprocess_task_handler.run_local_subprocess = dispatch
    try:
        yield
    finally:
        subprocess_task_handler.run_local_subprocess = original
