import math

import numpy as np
import pytest

from churnops.core.evaluation import MAX_ROC_POINTS, compute_metrics, evaluate


def test_metrics_match_a_hand_computed_case():
    y = [0, 0, 1, 1]
    p = [0.1, 0.6, 0.4, 0.9]  # one false positive, one false negative
    metrics = compute_metrics(y, p)
    assert metrics["accuracy"] == 0.5
    assert metrics["precision"] == 0.5 and metrics["recall"] == 0.5 and metrics["f1"] == 0.5
    assert metrics["roc_auc"] == 0.75
    expected_loss = -np.mean([math.log(0.9), math.log(0.4), math.log(0.4), math.log(0.9)])
    assert metrics["log_loss"] == pytest.approx(expected_loss)


def test_curve_is_thinned_and_json_safe():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    result = evaluate(y, rng.random(5000))
    fpr, tpr, thresholds = result.roc
    assert len(fpr) <= MAX_ROC_POINTS and fpr[0] == 0.0 and fpr[-1] == 1.0
    assert all(math.isfinite(value) for value in thresholds)
    assert sum(map(sum, result.confusion)) == 5000
