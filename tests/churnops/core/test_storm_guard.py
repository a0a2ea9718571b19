"""The storm guard's rule: only drifted, only when enabled, at most one claim per window."""

from __future__ import annotations

import pytest

from churnops.core.storm_guard import SKIP, TRIGGER, claim_name, decide, is_stale, parse_claims

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


def test_an_abandoned_claim_inside_the_window_lets_the_next_sequence_through():
    now = 10 * DAY
    claims = parse_claims("w", [("w-drift-retrain-000004", now - 3600)])
    assert is_stale(claims[-1], now, DAY, 900) and not is_stale(claims[-1], now, DAY, 3601)
    assert not is_stale(claims[-1], now + DAY, DAY, 900)  # past the window: an ordinary trigger, no check needed
    assert decide("drifted", True, claims, now, DAY).action == SKIP
    taken = decide("drifted", True, claims, now, DAY, abandoned=True, grace_seconds=900)
    assert (taken.action, taken.sequence) == (TRIGGER, 5) and "taking over" in taken.reason
    assert decide("ok", True, claims, now, DAY, abandoned=True).action == SKIP  # never without drift
