"""The drift rules on the synthetic data: a batch from the training distribution is ok, a shifted one drifted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.paths import SYNTHETIC_CSV

from churnops import defaults
from churnops.core.drift import DRIFTED, OK, WARN, DriftCheck, Thresholds, psi, to_html, to_markdown
from churnops.core.features import infer_feature_spec
from churnops.core.fitting import typed_features
from churnops.core.profile import build_profile
from churnops.errors import ChurnopsError

LIMITS = Thresholds.from_dict(defaults.DRIFT_THRESHOLDS)


@pytest.fixture(scope="module")
def data():
    frame = pd.read_csv(SYNTHETIC_CSV, dtype=str, keep_default_na=False, na_values=[""]).drop(columns=["Churn"])
    train, batch = frame.iloc[:4000], frame.iloc[4000:].reset_index(drop=True)
    spec = infer_feature_spec(train)
    scores = np.random.default_rng(0).beta(2, 5, 1000)
    profile = build_profile(typed_features(train, spec), spec.numeric, spec.categorical, scores)
    return spec, profile, batch


def shifted(batch: pd.DataFrame) -> pd.DataFrame:
    """Longer-tenured, pricier customers, and a contract type training never saw on 5% of the rows."""
    out = batch.copy()
    out["tenure"] = (out["tenure"].astype(float) * 0.5 + 20).round().astype(int).astype(str)
    out["MonthlyCharges"] = (out["MonthlyCharges"].astype(float) * 1.3).round(2).astype(str)
    out.loc[out.index[:50], "Contract"] = "Four year"
    return out


def check(data, batch, chunk_rows=None, scores=None, limits=LIMITS):
    spec, profile, _ = data
    drift = DriftCheck(profile, limits)
    step = chunk_rows or len(batch)
    for start in range(0, len(batch), step):
        drift.add_features(typed_features(batch.iloc[start:start + step], spec))
    if scores is not None:
        drift.add_scores(scores)
    return drift.report({"model_name": "churn-classifier", "model_version": "3"})


def test_a_batch_from_the_training_distribution_is_ok(data):
    report = check(data, data[2], scores=np.random.default_rng(1).beta(2, 5, 1000))
    assert (report.verdict, report.drifted, report.warned) == (OK, [], [])
    assert max(item.psi for item in report.features) < LIMITS.psi_warn


def test_shifted_tenure_and_monthly_charges_and_a_new_contract_are_drifted_and_named(data):
    report = check(data, shifted(data[2]), scores=np.random.default_rng(1).beta(2, 5, 1000))
    assert report.verdict == DRIFTED
    assert sorted(report.drifted) == ["Contract", "MonthlyCharges", "tenure"]
    contract = next(item for item in report.features if item.name == "Contract")
    assert contract.new_values == ["Four year"] and contract.new_share == pytest.approx(0.05)
    assert report.features[0].status == DRIFTED  # the table lists the worst first
    assert report.reasons[0].startswith("drifted: ") and "tenure" in report.reasons[0]


def test_chunked_and_whole_batch_give_the_same_report(data):
    whole, chunked = check(data, shifted(data[2])), check(data, shifted(data[2]), chunk_rows=37)
    assert chunked.to_dict() == whole.to_dict()


def test_shifted_scores_are_drift_too(data):
    report = check(data, data[2], scores=np.random.default_rng(1).beta(5, 2, 1000))  # most customers now "churn"
    assert report.verdict == DRIFTED and report.drifted == ["churn_probability"]


@pytest.mark.parametrize(("new_rows", "status"), [(0, OK), (3, WARN), (10, DRIFTED)])
def test_a_new_category_warns_on_any_row_and_drifts_from_one_percent(data, new_rows, status):
    batch = data[2].copy()
    batch.loc[batch.index[:new_rows], "PaymentMethod"] = "Crypto"
    report = check(data, batch)
    assert next(item for item in report.features if item.name == "PaymentMethod").status == status


def test_too_few_rows_never_count_as_drifted(data):
    report = check(data, shifted(data[2]).head(150))
    assert report.verdict == WARN and report.drifted  # the features still say what moved
    assert "only 150 rows (< min_rows 200)" in report.reasons[0]


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert 0 < psi([0.5, 0.5], [0.6, 0.4]) < psi([0.5, 0.5], [0.9, 0.1])


def test_thresholds_are_checked_and_every_problem_listed():
    with pytest.raises(ChurnopsError) as error:
        Thresholds.from_dict({**defaults.DRIFT_THRESHOLDS, "psi_warn": 0.5, "psi_drfit": 1, "ks_drift": "high"})
    message = str(error.value)
    assert "unknown key 'psi_drfit'" in message and "ks_drift='high' is not a number" in message
    with pytest.raises(ChurnopsError, match="psi_warn=0.5 is above psi_drift=0.25"):
        Thresholds.from_dict({**defaults.DRIFT_THRESHOLDS, "psi_warn": 0.5})


def test_the_report_renders_as_html_and_markdown_naming_the_features(data):
    report = check(data, shifted(data[2]))
    page, text = to_html(report), to_markdown(report)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "Drift: <span" in page and ">drifted</span>" in page and "Four year" in page
    assert text.startswith("# Drift: **drifted**") and "| tenure | numeric | drifted |" in text
