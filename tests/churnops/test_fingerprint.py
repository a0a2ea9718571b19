"""Training fingerprints: equal inputs hash equal, any change in data, parameters or code does not."""

from __future__ import annotations

import mlflow
import pytest

from churnops.fingerprint import TAG, code_version, find_version, training_fingerprint

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
    assert version == "0.1.0" and len(source_hash) == 12


def test_find_version_returns_the_oldest_match(tracking_uri):
    client = mlflow.MlflowClient()
    client.create_registered_model("fp-model")
    for tags in ({TAG: "aaa"}, {TAG: "bbb"}, {TAG: "bbb"}):
        client.create_model_version("fp-model", "file:///nowhere", tags=tags)
    assert str(find_version(client, "fp-model", "bbb").version) == "2"
    assert find_version(client, "fp-model", "ccc") is None
