"""KFP's 6-field cron (seconds first) is accepted; the classic 5-field mistake is caught with its fix."""

from __future__ import annotations

import pytest

from churnops.schedules.cron import cron_problem


@pytest.mark.parametrize("expression", [
    "0 0 3 * * MON", "0 0 3 * * 1", "*/30 * * * * *", "0 0 0 1 JAN-MAR ?", "0 15,45 8-18/2 ? * MON-FRI",
    "@weekly", "@hourly",
])
def test_valid_kfp_cron(expression):
    assert cron_problem(expression) is None


@pytest.mark.parametrize(("expression", "words"), [
    ("0 3 * * 1", "write '0 0 3 * * 1'"),
    ("0 0 3 * *  * *", "7 fields"),
    ("60 0 3 * * *", "seconds field '60': 60 is outside 0-59"),
    ("0 0 3 32 * *", "day of month"),
    ("0 0 3 * 13 *", "month field"),
    ("0 0 3 * * FUNDAY", "'FUNDAY' is not a number or one of SUN"),
    ("0 0 3 ? * ?", None),
    ("? 0 3 * * *", "only allowed in day-of-month and day-of-week"),
    ("0 0 18-8 * * *", "runs backwards"),
    ("0 */0 * * * *", "step of 0"),
    ("@every 1h", "interval_seconds"),
    ("@fortnightly", "unknown descriptor"),
])
def test_invalid_cron_says_what_and_how(expression, words):
    problem = cron_problem(expression)
    if words is None:
        assert problem is None
    else:
        assert problem is not None and words in problem
