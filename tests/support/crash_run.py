"""One registration + promotion, as the training pipeline's last two steps run it, in its own process.

`python tests/support/crash_run.py PLAN.json`: PLAN holds the step inputs (a logged, evaluated
model and this run's test split). With CHURNOPS_CRASH_AT naming a boundary the process kills itself
there (churnops.registry.journal.boundary); the kill-matrix test then runs it again without.
Prints the promotion step's result as JSON on the last line.

`forked(plan, env)` runs the same in a process forked from the warm executor's forkserver
(churnops.app.warm_executor: a clean interpreter that imported the steps once), the way local
pipeline steps now run: the kill is the same os._exit(137) in a process of its own, without
paying a Python start-up and MLflow import per case of the matrix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback


def main(argv: list[str]) -> int:
    from churnops.steps import promote_model, register_model

    plan = json.loads(open(argv[0]).read())
    registered = register_model.run(plan["model_uri"], plan["run_id"], plan["tracking_uri"], plan["model_name"],
                                    plan["test_metrics"], fingerprint=plan["fingerprint"])
    decided = promote_model.run(plan["x_test"], plan["y_test"], plan["run_id"], plan["tracking_uri"],
                                plan["model_name"], str(registered["model_version"]), plan["thresholds"],
                                plan["primary_metric"], plan["tolerance"], plan["threshold"])
    print(json.dumps({"registered": registered, "decided": decided}, default=str))
    return 0


def _child(plan_path: str, env: dict[str, str], output_path: str) -> None:
    fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.clear()
    os.environ.update(env)
    try:
        code = main([plan_path])
    except BaseException:  # noqa: BLE001 - an uncaught exception: report it, status 1, as a process would
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def forked(plan_path: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """main([plan_path]) in a forked process with exactly `env`; its output as stderr."""
    from churnops.app import warm_executor

    with tempfile.NamedTemporaryFile(suffix=".log") as output:
        process = warm_executor.context().Process(target=_child, args=(plan_path, env, output.name))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise TimeoutError(f"crash_run {plan_path} still running after {timeout} s")
        text = open(output.name).read()
    return subprocess.CompletedProcess(["crash_run", plan_path], process.exitcode, "", text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
