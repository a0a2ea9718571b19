"""The `churnops` command as a user runs it: a real process, stdout/stderr/exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO


def churnops(*args: str, home: Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHURNOPS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "churnops", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.e2e
def test_train_json_prints_exactly_one_object_and_progress_on_stderr(tmp_path):
    result = churnops("train", "--json", "--model-name", "cli-model", "--param", "C=0.5", home=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)  # fails on anything else on stdout
    assert {"run_id", "model_name", "model_version", "model_uri", "metrics"} <= set(payload)
    assert payload["model_name"] == "cli-model" and payload["model_version"] == "1"
    assert payload["model_uri"] == "models:/cli-model/1"
    assert set(payload["metrics"]) == {"roc_auc", "accuracy", "precision", "recall", "f1", "log_loss"}
    assert "train-model" in result.stderr  # progress per step
    # --param without --model-type keeps meaning logistic regression (single-model mode).
    assert payload["selection"]["mode"] == "single" and payload["selection"]["model_type"] == "logistic_regression"
    assert (tmp_path / "mlflow" / "mlflow.db").exists()


def test_bad_input_is_one_paragraph_without_traceback(tmp_path):
    result = churnops("train", "--dataset", str(tmp_path / "missing.csv"), "--json", home=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Dataset not found" in result.stderr and "--dataset" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_tracking_server_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNOPS_TRACKING_WAIT_SECONDS", "2")  # the bounded wait, not its 60 s default
    result = churnops("train", "--tracking-uri", "http://127.0.0.1:9", home=tmp_path)
    assert result.returncode == 1
    assert "http://127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_bad_hyperparameter_is_refused(tmp_path):
    result = churnops("train", "--param", "n_estimators=5", home=tmp_path)
    assert result.returncode == 1
    assert "not used by logistic_regression" in result.stderr


def test_compile_writes_yaml(tmp_path):
    result = churnops("compile", "--output-dir", str(tmp_path / "out"), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "training.yaml").exists()


def test_version_prints_the_package_version(tmp_path):
    from churnops import __version__

    result = churnops("--version", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"churnops {__version__}"


@pytest.mark.e2e
def test_a_second_identical_run_does_not_repeat_no_champion_yet(tmp_path):
    args = ("train", "--model-name", "again", "--param", "C=0.5")
    first = churnops(*args, home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "no champion yet" in first.stdout  # true the first time
    second = churnops(*args, home=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Nothing new" in second.stdout
    assert "no champion yet" not in second.stdout
    assert "decided when v1 was registered; v1 is the champion (this version)" in second.stdout


@pytest.mark.parametrize("command", [["models", "list"], ["train"], ["predict", "--input", "x.csv", "--output", "o.csv"]])
def test_a_refused_tracking_server_fails_an_interactive_command_in_seconds(tmp_path, monkeypatch, command):
    """Before issue 24: 60-80 s of retries. Now interactive commands wait defaults.INTERACTIVE_TRACKING_WAIT_SECONDS
    (2 s) before naming the server; pipeline steps and `serve` keep the patient wait."""
    import socket
    import time

    monkeypatch.delenv("CHURNOPS_TRACKING_WAIT_SECONDS", raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed when the socket is: refused
    started = time.monotonic()
    result = churnops(*command, "--tracking-uri", uri, home=tmp_path)
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and f"{uri} did not answer /health" in result.stderr and "in 2 s" in result.stderr
    assert "Connection refused" in result.stderr and "Traceback" not in result.stderr
    assert elapsed < 6, elapsed  # 2 s of retries plus interpreter start on a loaded machine; measured ~2.3 s idle


def test_the_first_line_comes_before_mlflow_is_imported(tmp_path):
    """A first line within a second: printed before any heavy import (-X importtime lists each import as it ends)."""
    env = {**os.environ, "CHURNOPS_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "churnops", "models", "list"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=600)
    lines = result.stderr.splitlines()
    opening = next(index for index, line in enumerate(lines) if line.startswith("churnops models list: "))
    assert lines[opening] == f"churnops models list: churn-classifier on the embedded store {tmp_path}"
    first_mlflow = next(index for index, line in enumerate(lines) if "mlflow" in line)
    assert opening < first_mlflow


@pytest.mark.parametrize(("argv", "hint"), [
    (["train", "--datset", "x.csv"], "unrecognized arguments: --datset x.csv; did you mean --dataset?"),
    (["models", "list", "--modle-name", "m"], "did you mean --model-name?"),
    (["trian"], "invalid choice: 'trian' (choose from 'train', "),
    (["models", "rolback"], "did you mean 'rollback'?"),
])
def test_a_mistyped_flag_or_command_gets_a_suggestion(argv, hint, capsys):
    from churnops.app.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and hint in capsys.readouterr().err


def test_serve_without_the_serving_extra_names_make_serve_setup(monkeypatch, capsys):
    from churnops.app.cli import main

    monkeypatch.setitem(sys.modules, "kserve", None)  # what find_spec sees where the extra is not installed
    assert main(["serve"]) == 1
    error = capsys.readouterr().err
    assert "make serve-setup" in error and "ModuleNotFoundError" not in error
