"""`churnops models compare` as printed: each side named by its aliases now, columns aligned, rows named by
their id, a gate decision that a later move overrode marked as superseded."""

from __future__ import annotations

import json

import numpy as np

from churnops import names
from churnops.app import compare
from churnops.core.comparison import compare as numbers


def report() -> dict:
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    a, b = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1), np.clip(0.2 * y + rng.random(300) * 0.8, 0, 1)
    result = numbers(y, a, b, 0.5, seed=1, top=3)
    for row in result["disagreements"]:
        row["id"] = f"{7590 + row['row']}-VHVEG"
    rolled_back = {names.TAG_STATUS: "passed", names.TAG_VALIDATION_REASON: "beats the champion",
                   names.TAG_VALIDATION_DECIDED: "2026-03-02T06:00:20+00:00 by training-run:b",
                   names.TAG_AUDIT_HISTORY: json.dumps([
                       {"action": "promote", "by": "training-run:b", "at": "2026-03-02T06:00:21.120+00:00", "reason": "x"},
                       {"action": "rolled-back", "by": "ana", "at": "2026-03-03T07:30:40+00:00",
                        "reason": "champion moved to v1: INC-7"}])}
    first = {names.TAG_STATUS: "passed", names.TAG_VALIDATION_REASON: "no champion yet",
             names.TAG_VALIDATION_DECIDED: "2026-03-01T05:00:10+00:00 by training-run:a",
             names.TAG_AUDIT_HISTORY: json.dumps([
                 {"action": "promote", "by": "training-run:a", "at": "2026-03-01T05:00:10+00:00", "reason": "y"}])}
    return {"model_name": "churn-classifier", "challenger": "2", "champion": "1", **result,
            "labels": {"challenger": compare.label("2", {"candidate-latest": "2", "champion": "1"}),
                       "champion": compare.label("1", {"champion": "1"})},
            "id_column": "customerID", "decision": compare.decision_now(rolled_back),
            "champion_decision": compare.decision_now(first), "run_id": "r"}


def test_each_side_is_named_by_its_aliases_now_and_the_columns_line_up():
    text = compare.format_text(report())
    lines = text.splitlines()
    assert lines[0].startswith("churn-classifier: v2 (candidate-latest) vs v1 (champion) on the champion's 300 ")
    assert "(challenger)" not in text
    header, first_metric = lines[1], lines[2]
    assert header.index("v1 (champion)") == first_metric.rindex("0.") - len("0.0000 [0.0000, ")
    assert header.index("v2 (candidate-latest)") == first_metric.index("0.")


def test_disagreeing_rows_are_named_by_the_id_column():
    lines = compare.format_text(report()).splitlines()
    start = lines.index("  rows where they disagree most (customerID, churned, v2, v1):")
    assert all(line.split()[0].endswith("-VHVEG") for line in lines[start + 1:start + 4])


def test_a_superseded_decision_says_what_superseded_it_and_its_own_move_does_not():
    text = compare.format_text(report())
    assert ("gate's decision on v2 (2026-03-02 06:00 UTC): passed: beats the champion\n"
            "    superseded: rolled-back at 2026-03-03 07:30 UTC by ana: champion moved to v1: INC-7") in text
    assert text.rstrip().endswith("gate's decision on v1 (2026-03-01 05:00 UTC): passed: no champion yet")
