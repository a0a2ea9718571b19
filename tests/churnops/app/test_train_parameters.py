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
])
def test_train_refuses_bad_parameters_before_any_step(flags, named, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNOPS_HOME", str(tmp_path))
    code = main(["train", "--tracking-uri", UNREACHABLE, *flags])
    err = capsys.readouterr().err
    assert code == 1
    assert named in err and "Invalid training parameters" in err
    assert UNREACHABLE not in err
