"""The champion-vs-challenger review's numbers: deterministic, intervals around the point, disagreements first."""

from __future__ import annotations

import numpy as np

from churnops.core.comparison import compare


def scores(seed: int = 0, rows: int = 400):
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.3).astype(int)
    good = np.clip(0.35 * y + rng.random(rows) * 0.65, 0, 1)
    weak = np.clip(0.1 * y + rng.random(rows) * 0.9, 0, 1)
    return y, good, weak


def test_the_review_is_the_same_for_the_same_seed_and_its_intervals_hold_the_point():
    y, good, weak = scores()
    first, again = compare(y, good, weak, 0.5, seed=7), compare(y, good, weak, 0.5, seed=7)
    assert first["metrics"] == again["metrics"]
    for side in ("challenger", "champion"):
        for interval in first["metrics"][side].values():
            assert interval["low"] <= interval["value"] <= interval["high"]
    assert first["metrics"]["challenger"]["roc_auc"]["low"] > first["metrics"]["champion"]["roc_auc"]["high"]
    gaps = [abs(d["challenger"] - d["champion"]) for d in first["disagreements"]]
    assert gaps == sorted(gaps, reverse=True) and len(gaps) == 10
    assert set(first["curves"]) == {"challenger", "champion"}
