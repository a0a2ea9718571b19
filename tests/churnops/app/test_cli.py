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
