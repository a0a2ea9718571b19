"""run_locally's promises about the process it runs in: stdout stays clean after a run."""

from __future__ import annotations

import builtins
import logging
import sys
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
        # what interleaved kfp.local task threads can leave: a root handler on this run's stdout
        logging.getLogger().addHandler(logging.StreamHandler(sys.stdout))
        logging.getLogger().setLevel(logging.INFO)
        print("Task 'x' finished with status FAILURE" if self.fail else "step output")
        if self.fail:
            raise RuntimeError("Task 'x' finished with status FAILURE")
        return SimpleNamespace(output="7")


@pytest.mark.parametrize("fail", [False, True], ids=["success", "failure"])
def test_the_real_print_and_the_root_logger_are_restored_after_a_run(tmp_path, fail):
    real_print = builtins.print
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    if fail:
        with pytest.raises(ChurnopsError, match="pipeline leaky failed; full log"):
            run_locally(LeakyPipeline(fail=True), {}, tmp_path)
    else:
        assert run_locally(LeakyPipeline(), {}, tmp_path) == "7"
    assert builtins.print is real_print
    assert root.handlers == handlers and root.level == level
    logging.getLogger("churnops.test").warning("after the run")  # no "--- Logging error ---" on a closed log


def test_step_error_prefers_churnops_errors_over_the_runner_message():
    log = "\n".join([
        "ValueError: something deep",
        "churnops.errors.DatasetError: Target column 'Churn' is not in the dataset.",
        "RuntimeError: Task failed",
    ])
    assert step_error(log) == "Target column 'Churn' is not in the dataset."


def test_a_steps_progress_line_reaches_stderr_with_the_family_it_scores(tmp_path, capsys, split_for_progress):
    """The real step prints its line; the runner's stdout stand-in lifts it onto the progress stream."""
    import io

    from churnops.app.local_runner import ProgressLog
    from churnops.steps import score_model_family, start_candidate_search

    tracking_uri, x_path, y_path = split_for_progress
    family = {"model_type": "logistic_regression", "grid": [{"C": 1.0}]}
    parent = start_candidate_search.run(tracking_uri, "progress", "m", [family], 3, {})
    score_model_family.run(x_path, y_path, family, parent, 3, 42)
    step_stdout = capsys.readouterr().out
    progress = io.StringIO()
    with open(tmp_path / "log", "w") as log:
        stream = ProgressLog(log, progress, verbose=False)
        stream.write("    " + step_stdout)  # kfp.local indents a step's output
    assert "churnops:   scoring logistic_regression: 1 settings x 3 folds (1 on " in progress.getvalue()
    assert "[" not in progress.getvalue() and "'" not in progress.getvalue()  # words, not Python reprs


def test_a_parallel_tasks_finish_line_names_the_family_it_scored(tmp_path):
    """What kfp.local 2.17.3 logs for two ParallelFor tasks of one name (read from a real run log, colours removed)."""
    import io

    from churnops.app.local_runner import ProgressLog

    log = "\n".join([
        "07:49:27.772 - INFO - Executing task 'score-model-family'",
        "07:49:27.774 - INFO - Executing task 'score-model-family'",
        "07:49:28.763 - INFO - Task 'score-model-family' finished with status SUCCESS",
        "07:49:28.764 - INFO - Task 'score-model-family' outputs:",
        "    Output: {'model_type': 'logistic_regression', 'scores': [{'name': 'logistic_regression(C=0.1)'}]}",
        "-" * 80,
        "07:49:30.652 - INFO - Task 'score-model-family' finished with status SUCCESS",
        "07:49:30.653 - INFO - Task 'score-model-family' outputs:",
        "    Output: {'model_type': 'random_forest', 'scores': []}",
        "07:49:31.000 - INFO - Task 'select-best-candidate' finished with status FAILURE",
        "",
    ])
    progress = io.StringIO()
    with open(tmp_path / "log", "w") as handle:
        stream = ProgressLog(handle, progress, verbose=False)
        stream.write(log)
        stream.finish_pending()
    finished = [line.split(" (")[0] for line in progress.getvalue().splitlines() if "..." not in line]
    assert finished == ["churnops: score-model-family logistic_regression success",
                        "churnops: score-model-family random_forest success", "churnops: select-best-candidate failure"]


@pytest.fixture
def split_for_progress(tracking_uri, tmp_path, make_churn_dataset):
    from churnops.core import data
    from churnops.storage.datasets import read_dataset

    frame, target = make_churn_dataset("messy")
    frame.to_csv(tmp_path / "all.csv", index=False)
    split = data.split_dataset(read_dataset(str(tmp_path / "all.csv")), target, 0.2)
    x_path, y_path = tmp_path / "x.csv", tmp_path / "y.csv"
    split.x_train.to_csv(x_path, index=False)
    split.y_train.to_frame().to_csv(y_path, index=False)
    return tracking_uri, str(x_path), str(y_path)


def test_parallel_task_threads_writing_at_once_lose_nothing_in_the_run_log(tmp_path):
    """kfp.local prints from a ParallelFor's task threads at once; the run log keeps every line whole
    (without the lock in ProgressLog.write, bytes went missing here and a log once held freed memory,
    which broke reading the failed step's error back)."""
    import io
    import threading

    from churnops.app.local_runner import ProgressLog

    line = "score-model-family: µ-averaged ✓ " * 4 + "\n"
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: without the lock this fails every run
    try:
        with open(tmp_path / "run.log", "w", encoding="utf-8") as log:
            stream = ProgressLog(log, io.StringIO(), verbose=False)
            threads = [threading.Thread(target=lambda: [stream.write(line) for _ in range(5000)]) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(switch)
    text = (tmp_path / "run.log").read_bytes().decode("utf-8")
    assert text.count(line) == 6 * 5000 and len(text) == 6 * 5000 * len(line)
