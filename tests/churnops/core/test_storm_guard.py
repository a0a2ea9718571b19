"""The storm guard's rule: only drifted, only when enabled, at most one claim per window."""

from __future__ import annotations

import pytest

from churnops.core.storm_guard import SKIP, TRIGGER, claim_name, decide, parse_claims

DAY = 86400


def test_claims_are_found_by_name_and_ordered_by_sequence():
    claims = parse_claims("weekly", [("weekly-drift-retrain-000002", 20.0), ("weekly-drift-retrain-000001", 10.0),
                                     ("weekly-drift-retrain-x", 5.0), ("other-drift-retrain-000007", 1.0),
                                     ("weekly-2-drift-retrain-000009", 1.0)])
    assert [(claim.sequence, claim.created_epoch) for claim in claims] == [(1, 10.0), (2, 20.0)]
    assert claim_name("weekly", 3) == "weekly-drift-retrain-000003"


@pytest.mark.parametrize(("verdict", "enabled", "claimed_ago", "action", "sequence"), [
    ("ok", True, None, SKIP, 0),
    ("warn", True, None, SKIP, 0),
    ("drifted", False, None, SKIP, 0),
    ("drifted", True, None, TRIGGER, 1),
    ("drifted", True, DAY - 1, SKIP, 0),
    ("drifted", True, DAY, TRIGGER, 2),
])
def test_decide(verdict, enabled, claimed_ago, action, sequence):
    now = 10 * DAY
    claims = parse_claims("w", [("w-drift-retrain-000001", now - claimed_ago)]) if claimed_ago is not None else []
    decision = decide(verdict, enabled, claims, now, DAY)
    assert (decision.action, decision.sequence) == (action, sequence)
