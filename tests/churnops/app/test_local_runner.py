"""run_locally's promises about the process it runs in: stdout stays clean after a run."""

from __future__ import annotations

import builtins
from types import SimpleNamespace

import pytest

from churnops.app.local_runner import run_locally, step_error
from churnops.errors import ChurnopsError


class LeakyPipeline:
    """Stands in for a kfp.local run whose parallel tasks left an indenting print behind."""

    name = "leaky"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def __call__(self, **arguments):
        original = builtins.print
        builtins.print = lambda *args, **kwargs: original("    ", *args, **kwargs)
        print("Task 'x' finished with status FAILURE" if self.fail else "step output")
        if self.fail:
            raise RuntimeError("Task 'x' finished with status FAILURE")
        return SimpleNamespace(output="7")


@pytest.mark.parametrize("fail", [False, True], ids=["success", "failure"])
def test_the_real_print_is_restored_after_a_run(tmp_path, fail):
    real_print = builtins.print
    if fail:
        with pytest.raises(ChurnopsError, match="pipeline leaky failed; full log"):
            run_locally(LeakyPipeline(fail=True), {}, tmp_path)
    else:
        assert run_locally(LeakyPipeline(), {}, tmp_path) == "7"
    assert builtins.print is real_print


def test_step_error_prefers_churnops_errors_over_the_runner_message():
    log = "\n".join([
        "ValueError: something deep",
        "churnops.errors.DatasetError: Target column 'Churn' is not in the dataset.",
        "RuntimeError: Task failed",
    ])
    assert step_error(log) == "Target column 'Churn' is not in the dataset."
