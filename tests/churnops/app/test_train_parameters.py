"""`churnops train` refuses bad parameters before any step runs (issue 12, problem 8).

The tracking URI points at a closed port: had the check not come first, the error would be
about the unreachable server instead of the parameter.
"""

from __future__ import annotations

import pytest

from churnops.app.cli import main

UNREACHABLE = "http://127.0.0.1:9"


@pytest.mark.parametrize(("flags", "named"), [
    (["--test-size", "1.5"], "test_size_ratio"),
    (["--param", "C=big"], "'C'"),
    (["--model-type", "logistic_regression", "--param", "C=-2"], "'C'"),
    (["--min-test-rows", "20"], "promotion_min_class_rows (30) of each class needs at least 60 test rows"),
    (["--search-max-rows", "-1"], "search_budget max_rows must be a whole number >= 0 (0: every row"),
])
def test_train_refuses_bad_parameters_before_any_step(flags, named, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNOPS_HOME", str(tmp_path))
    code = main(["train", "--tracking-uri", UNREACHABLE, *flags])
    err = capsys.readouterr().err
    assert code == 1
    assert named in err and "Invalid training parameters" in err
    assert "answer" not in err  # the server was not contacted (not answering / did not answer)


@pytest.mark.parametrize("flags", [["--min-test-rows", "-5"], ["--min-class-rows", "many"]])
def test_a_holdout_minimum_that_is_not_a_count_is_refused_by_the_parser(flags, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNOPS_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exited:
        main(["train", "--tracking-uri", UNREACHABLE, *flags])
    assert exited.value.code == 2
    assert f"{flags[0]} takes a whole number of rows >= 0" in capsys.readouterr().err


@pytest.fixture
def handed(tmp_path, monkeypatch):
    """`churnops train` up to the pipeline: the arguments it hands run_locally, on a small dataset
    at `handed["dataset"]`; the run itself is stopped (the command then exits 1)."""
    from churnops.app import runs

    monkeypatch.setenv("CHURNOPS_HOME", str(tmp_path))
    arguments = {}

    def stop(pipeline, given, home, **kwargs):
        arguments.update(given)
        raise runs.ChurnopsError("stopped before the pipeline ran")

    monkeypatch.setattr(runs, "run_locally", stop)
    data = tmp_path / "d.csv"
    data.write_text("plan,usage,Churn\n" + "".join(f"{'ab'[i % 2]},{i},{'Yes' if i % 3 else 'No'}\n" for i in range(60)))
    arguments["dataset"] = str(data)
    return arguments


def test_the_holdout_minimums_reach_the_pipeline_parameters(handed):
    """What `churnops train --min-test-rows/--min-class-rows` hands the training pipeline's gate."""
    code = main(["train", "--dataset", handed["dataset"], "--model-type", "logistic_regression", "--min-test-rows", "10",
                 "--min-class-rows", "2"])
    assert code == 1
    assert (handed["promotion_min_test_rows"], handed["promotion_min_class_rows"]) == (10, 2)


def test_the_search_budget_flags_reach_the_pipeline_parameters(handed):
    """`--search-strategy/--search-max-rows` become the training pipeline's `search_budget`, the rest default."""
    from churnops import defaults

    assert main(["train", "--dataset", handed["dataset"], "--search-strategy", "exhaustive", "--search-max-rows", "0"]) == 1
    assert handed["search_budget"] == {**defaults.SEARCH_BUDGET, "strategy": "exhaustive", "max_rows": 0}
