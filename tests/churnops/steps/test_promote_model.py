"""The version description the gate writes: status and verdict first (what the MLflow version page shows above the fold)."""

from __future__ import annotations

import pytest

from churnops.core import promotion
from churnops.steps.promote_model import version_description

POLICY = promotion.Policy({"roc_auc": 0.6}, "roc_auc", 0.005, min_test_rows=0, min_class_rows=0)
HOLDOUT = (400, 100)


@pytest.mark.parametrize(("candidate", "champion", "champion_now", "start"), [
    (0.85, None, None, "PASSED - PROMOTED to champion: no champion yet"),
    (0.85, 0.80, "1", "PASSED - PROMOTED to champion: beats the champion"),
    (0.70, 0.80, "1", "FAILED - kept as challenger: worse than the champion"),
    (0.50, None, None, "FAILED - kept as challenger: "),
    (0.85, 0.80, "2", "FAILED - not moved (the champion changed meanwhile): the champion changed during this run"),
])
def test_the_description_starts_with_status_and_verdict_then_says_data_and_comparison(candidate, champion,
                                                                                      champion_now, start):
    decision = promotion.decide({"roc_auc": candidate}, "1" if champion else None,
                                {"roc_auc": champion} if champion else None, champion_now, POLICY, HOLDOUT)
    text = version_description(decision, "3", "churn_synthetic@b86bccb1efbd")
    assert text.startswith(start), text
    assert text.split(" - ", 1)[0] == decision.status.upper()
    assert decision.reason.rstrip(".") in text
    assert f"v3 trained on churn_synthetic@b86bccb1efbd; holdout roc_auc {candidate:.4f}; " in text
    against = "compared with champion v1 on the same 400 holdout rows." if champion else "no champion to compare with."
    assert text.endswith(against), text
    assert ".." not in text


def test_unknown_data_and_a_missing_score_are_said_plainly():
    decision = promotion.decide({}, None, None, None, promotion.Policy({}, "roc_auc", 0.0, 0, 0))
    text = version_description(decision, "1", "")
    assert text.startswith(f"{decision.status.upper()} - ")
    assert "v1 trained on unknown data; holdout roc_auc -;" in text
