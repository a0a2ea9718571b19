"""The warm local executor (churnops.app.warm_executor) against kfp.local's plain SubprocessRunner.

Each test runs real pipelines through kfp.local (run_locally) under both executors: every step is
its own process (never the test's), sees the environment of the moment it starts, fails the
pipeline when it raises or is killed, and ends like a normal process (MLflow's exit handler closes
a run the step left open). The command recogniser is checked on the command kfp.local really builds.
"""

import os
import sys

import mlflow
import pytest
from kfp import dsl
from kfp.local import subprocess_task_handler

from churnops.app import warm_executor
from churnops.app.local_runner import run_locally
from churnops.errors import ChurnopsError

EXECUTORS = ["warm", "subprocess"]
IMAGE = "python:3.11"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def whoami(label: str) -> str:
    import os

    return f"{label}:{os.getpid()}:{os.getppid()}:{os.environ.get('CHURNOPS_TEST_MARK', '')}"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fail(how: str) -> str:
    import os
    import signal

    if how == "raise":
        raise ValueError("the step raised on purpose: boom-7f3")
    os.kill(os.getpid(), signal.SIGKILL)
    return "never"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def leave_run_open(tracking_uri: str) -> str:
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()  # first, as every churnops component does
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    run = mlflow.start_run()  # no `with`: only MLflow's exit handler ends it
    return run.info.run_id


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def preloaded(names: list) -> str:
    import sys

    import matplotlib

    return ",".join([*(name for name in names if name in sys.modules), matplotlib.get_backend().lower()])


@dsl.pipeline(name="preloaded")
def preloaded_modules(names: list) -> str:
    return preloaded(names=names).output


@dsl.pipeline(name="two-steps")
def two_steps() -> str:
    first = whoami(label="a")
    return whoami(label=first.output).output


@dsl.pipeline(name="failing")
def failing(how: str) -> str:
    return fail(how=how).output


@dsl.pipeline(name="open-run")
def open_run(tracking_uri: str) -> str:
    return leave_run_open(tracking_uri=tracking_uri).output


@pytest.mark.parametrize("executor", EXECUTORS)
def test_each_step_is_its_own_process_and_sees_the_environment_it_starts_in(tmp_path, monkeypatch, executor):
    monkeypatch.setenv("CHURNOPS_TEST_MARK", "first")
    first = run_locally(two_steps, {}, tmp_path, executor=executor)
    monkeypatch.setenv("CHURNOPS_TEST_MARK", "second")  # after the forkserver started
    second = run_locally(two_steps, {}, tmp_path, executor=executor)
    # "a:<pid>:<ppid>:<mark>:<pid>:<ppid>:<mark>" (the second step got the first's output as label)
    for output, mark in ((first, "first"), (second, "second")):
        _, pid_a, parent_a, mark_a, pid_b, parent_b, mark_b = output.split(":")
        assert mark_a == mark_b == mark
        assert len({pid_a, pid_b, str(os.getpid())}) == 3
        if executor == "warm":  # both forked by the same warm server, not by this process
            assert parent_a == parent_b != str(os.getpid())


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("how", ["raise", "sigkill"])
def test_a_step_that_raises_or_is_killed_fails_the_run(tmp_path, executor, how):
    with pytest.raises(ChurnopsError, match="pipeline failing failed; full log") as caught:
        run_locally(failing, {"how": how}, tmp_path, executor=executor)
    log = next((tmp_path / "logs").glob("failing-*.log")).read_text()
    if how == "raise":
        assert "boom-7f3" in log and "boom-7f3" in str(caught.value)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_step_ends_like_a_process_mlflow_closes_the_run_it_left_open(tmp_path, executor):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = run_locally(open_run, {"tracking_uri": uri}, tmp_path, executor=executor)
    assert mlflow.MlflowClient(tracking_uri=uri).get_run(run_id).info.status == "FINISHED"


def test_the_command_kfp_local_builds_for_our_components_is_recognised():
    from components.train_model import train_model

    container = train_model.component_spec.implementation.container
    command = subprocess_task_handler.replace_python_executable(
        [*container.command, "--executor_input", "{}", "--function_to_execute", "train_model"], sys.executable)
    source, args = warm_executor.parse(command)
    assert "def train_model(" in source and args == ["--executor_input", "{}", "--function_to_execute", "train_model"]
    # anything else runs the plain way: another interpreter, another script, a pip install first
    assert warm_executor.parse([*command[:2], command[2].replace(sys.executable, "/usr/bin/python3"), *command[3:]]) is None
    assert warm_executor.parse([*command[:2], command[2] + "echo more\n", *command[3:]]) is None
    assert warm_executor.parse(["sh", "-c", "pip install x && \"$0\" \"$@\"", *command]) is None


def test_an_unknown_executor_is_named_with_the_choices(monkeypatch, tmp_path):
    monkeypatch.setenv(warm_executor.ENV_EXECUTOR, "threads")
    with pytest.raises(ChurnopsError, match="CHURNOPS_LOCAL_EXECUTOR='threads' is not a local executor: use one of "
                                            "warm, subprocess"):
        run_locally(two_steps, {}, tmp_path)


def test_a_warm_step_finds_the_lazy_imports_done_and_matplotlib_on_agg(tmp_path):
    names = list(warm_executor.LAZY_IMPORTS)
    found = run_locally(preloaded_modules, {"names": names}, tmp_path, executor="warm").split(",")
    assert found == [*names, "agg"]
    # The plain runner's fresh interpreter has none of them before the step imports them.
    plain = run_locally(preloaded_modules, {"names": names}, tmp_path, executor="subprocess").split(",")
    assert not set(plain[:-1]) & set(names)
