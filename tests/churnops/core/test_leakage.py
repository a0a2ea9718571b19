"""Leakage (churnops.core.leakage) and the gate's rules 5 and 6 (churnops.core.promotion), without MLflow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnops.core import leakage, promotion
from churnops.core.data import split_dataset
from churnops.core.features import infer_feature_spec
from churnops.core.fitting import typed_features

POLICY = promotion.Policy({"roc_auc": 0.6}, "roc_auc", 0.005, min_test_rows=0, min_class_rows=0)


@pytest.fixture(scope="module")
def holdout(synthetic_csv):
    frame = pd.read_csv(synthetic_csv, dtype=str, keep_default_na=False, na_values=[""])
    rng = np.random.default_rng(3)
    frame["copy_of_target"] = frame["Churn"]
    frame["flag_0_1"] = (frame["Churn"] == "Yes").astype(int).astype(str)
    noisy = frame["Churn"].where(rng.random(len(frame)) > 0.03, "Maybe")  # 97% a copy: "nearly alone"
    frame["near_copy"] = noisy
    frame["row_code"] = [f"R{index:05d}" for index in range(len(frame))]  # one value per row, kept as a category
    split = split_dataset(frame, "Churn", 0.2, 42, "")
    spec = infer_feature_spec(split.x_train)
    if "row_code" not in spec.categorical:  # id-like columns are dropped by the spec; test the encoder on it anyway
        spec = type(spec)(spec.numeric, [*spec.categorical, "row_code"], spec.id_columns, spec.dropped)
    return typed_features(split.x_test, spec), split.y_test, spec


def test_copies_of_the_target_are_found_and_honest_features_are_not(holdout):
    typed, y, spec = holdout
    aucs = leakage.single_feature_auc(typed, y, spec, seed=0)
    assert aucs["copy_of_target"] == 1.0 and aucs["flag_0_1"] == 1.0
    assert aucs["near_copy"] > 0.95
    assert aucs["row_code"] < 0.6  # cross-fitted: a value per row learns nothing about another row
    assert set(leakage.leaking(aucs, 0.95)) == {"copy_of_target", "flag_0_1", "near_copy"}
    honest = {column: value for column, value in aucs.items() if column not in ("copy_of_target", "flag_0_1", "near_copy")}
    assert max(honest.values()) < 0.8, honest
    assert list(aucs) == sorted(aucs, key=lambda column: -aucs[column])  # strongest first


@pytest.mark.parametrize(("metrics", "aucs", "start", "named"), [
    ({"roc_auc": 1.0}, {"copy_of_target": 1.0, "tenure": 0.74}, "leakage: 'copy_of_target' (ROC AUC 1.000)",
     "copy_of_target"),
    ({"roc_auc": 0.995}, {"tenure": 0.74, "Contract": 0.73}, "implausibly perfect holdout: roc_auc 0.9950", "'tenure'"),
])
def test_the_gate_stops_a_leaky_candidate_naming_the_columns(metrics, aucs, start, named):
    decision = promotion.decide(metrics, "1", {"roc_auc": 0.85}, "1", POLICY, feature_auc=aucs)
    assert (decision.status, decision.action) == ("failed", promotion.ACTION_CHALLENGER)
    assert decision.reason.startswith(start) and named in decision.reason, decision.reason
    assert decision.evidence["single_feature_auc"] == aucs


def test_an_honest_candidate_passes_the_leakage_rules():
    decision = promotion.decide({"roc_auc": 0.86}, "1", {"roc_auc": 0.85}, "1", POLICY, feature_auc={"tenure": 0.74})
    assert decision.promoted, decision.reason


@pytest.mark.parametrize(("metrics", "promoted"), [({"roc_auc": 0.84}, True), ({"roc_auc": 0.55}, False)])
def test_a_champion_that_cannot_score_leaves_the_decision_to_the_thresholds(metrics, promoted):
    error = "Input is missing required column(s) ['copy_of_target']"
    decision = promotion.decide(metrics, "4", None, "4", POLICY, champion_error=error)
    assert decision.promoted is promoted
    if promoted:
        assert "the champion v4 cannot score this run's test set" in decision.reason and "copy_of_target" in decision.reason
        assert decision.evidence["champion_error"] == error
    else:
        assert decision.reason.startswith("below the absolute threshold")
