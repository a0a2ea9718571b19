"""How a step process ends: skip interpreter teardown in short-lived processes (pipeline steps, the `churnops` command).

A local KFP step is a fresh `python -m kfp.dsl.executor_main` process. Once the step has written
its outputs, a normal interpreter exit still tears down every module and object that MLflow,
SQLAlchemy and scikit-learn loaded: 0.7-1.3 s per process measured here, for nothing. A process
that opts in ends with `os._exit` right after the exit handlers ran, keeping the exit status.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

# KFP internal relied on: the module that runs a lightweight component (kfp 2.17.3 starts every
# step, local or in a pod, as `python -m kfp.dsl.executor_main`). If KFP renames it, in_kfp_step()
# returns False and steps simply exit with the normal (slower) teardown: no wrong result.
EXECUTOR_MODULE = "kfp.dsl.executor_main"


_forked_step = False  # set by churnops.app.warm_executor in each step process it forks


def mark_forked_step() -> None:
    """This process is a step forked by the warm executor, which ends it itself: after the exit
    handlers, with the step's status. MLflow was imported before the fork there, so its exit
    handler is older than any the step registers, and ours (last in, first out) would os._exit
    before it ran."""
    global _forked_step
    _forked_step = True


def in_kfp_step() -> bool:
    """True in a KFP step process (locally and in a cluster pod), False in tests or the CLI."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == EXECUTOR_MODULE


def exit_now(code: int) -> None:
    """Flush logs and streams, then end the process with `code`, skipping teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def run_and_exit(main, *args) -> None:
    """`sys.exit(main(*args))` without teardown: the exit handlers run, then os._exit(code).

    Errors that escape `main` (argparse's exit, a crash) take the normal exit path.
    """
    code = main(*args)
    # CPython internal relied on: atexit._run_exitfuncs() runs the registered exit handlers now
    # (MLflow ends an active run there), exactly what a normal exit would run before teardown.
    atexit._run_exitfuncs()
    exit_now(int(code or 0))


def skip_teardown_at_exit() -> None:
    """In a KFP step process, exit without teardown (status 1 after an uncaught exception or a
    non-zero sys.exit, 0 otherwise); a no-op anywhere else (tests, the CLI).

    Call it first in the component body, before MLflow is imported: exit handlers run last
    registered first, so MLflow's own (ending an active run) still run before this one.
    """
    if not in_kfp_step() or _forked_step:
        return
    status = [0]
    previous_hook, previous_exit = sys.excepthook, sys.exit

    def remember_failure(*exc_info) -> None:
        status[0] = 1
        previous_hook(*exc_info)

    def remember_exit(code=0):
        status[0] = code if isinstance(code, int) else (0 if code is None else 1)
        previous_exit(code)

    sys.excepthook = remember_failure
    sys.exit = remember_exit
    atexit.register(lambda: exit_now(status[0]))

