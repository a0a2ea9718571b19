"""Training fingerprints: equal inputs hash equal, any change in data, parameters or code does not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO

import churnops
from churnops.core.fingerprint import CODE_PATHS, code_version, training_fingerprint

BASE = {
    "target_column": "Churn",
    "positive_label": "Yes",
    "test_size_ratio": 0.2,
    "random_state": 42,
    "model_type": "logistic_regression",
    "hyperparameters": {"C": 1.0},
    "decision_threshold": 0.5,
}


def test_numbers_are_normalised_so_equal_inputs_hash_equal():
    # KFP hands metadata numbers back as floats: 42 -> 42.0 must not change the fingerprint.
    same = {**BASE, "random_state": 42.0, "hyperparameters": {"C": 1}}
    assert training_fingerprint("d" * 64, **BASE) == training_fingerprint("d" * 64, **same)


@pytest.mark.parametrize(
    "change",
    [
        {"dataset": "e" * 64},
        {"hyperparameters": {"C": 0.5}},
        {"model_type": "random_forest"},
        {"random_state": 7},
        {"test_size_ratio": 0.3},
        {"decision_threshold": 0.4},
        {"positive_label": "No"},
        {"code": "0.1.0+000000000000"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_any_change_changes_the_fingerprint(change):
    dataset = change.pop("dataset", "d" * 64)
    assert training_fingerprint(dataset, **{**BASE, **change}) != training_fingerprint("d" * 64, **BASE)


def test_code_version_names_the_package_version_and_a_source_hash():
    version, source_hash = code_version().split("+")
    assert version == churnops.__version__ and len(source_hash) == 12


def _code_version_of(tree: Path) -> str:
    """code_version() computed in a fresh process importing churnops from `tree`."""
    result = subprocess.run(
        [sys.executable, "-c", "from churnops.core.fingerprint import code_version; print(code_version())"],
        cwd=tree, capture_output=True, text=True, check=True, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )
    return result.stdout.strip()


@pytest.fixture
def source_tree(tmp_path) -> Path:
    """A copy of the packages the fingerprint could read, to edit without touching the repo."""
    tree = tmp_path / "src"
    for package in ("churnops", "components", "pipelines"):
        shutil.copytree(REPO / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


@pytest.mark.parametrize(
    ("edited", "changes"),
    [
        ("churnops/app/cli.py", False),  # CLI help text
        ("churnops/app/views.py", False),  # what `models list` prints
        ("churnops/schedules/cli.py", False),  # the GitOps sync
        ("churnops/core/fitting.py", True),
        ("churnops/steps/promote_model.py", True),
        ("churnops/registry/models.py", True),
        ("churnops/storage/datasets.py", True),
        ("components/train_model.py", True),
        ("pipelines/training.py", True),
    ],
)
def test_only_model_shaping_code_changes_the_fingerprint(source_tree, edited, changes):
    before = _code_version_of(source_tree)
    path = source_tree / edited
    path.write_text(path.read_text().replace('"""', '"""Edited. ', 1))
    assert (_code_version_of(source_tree) != before) is changes


def test_code_paths_exist():
    # A renamed folder would silently drop out of the fingerprint.
    assert all((REPO / folder).is_dir() and any((REPO / folder).rglob("*.py")) for folder in CODE_PATHS)
