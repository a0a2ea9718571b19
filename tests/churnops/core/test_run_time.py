"""`{scheduled_time}` in an output URI (issue 23: `[[ScheduledTime]]` was never expanded, so every
scheduled scoring run overwrote one object named `[[ScheduledTime]].csv`)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from churnops.core import run_time
from churnops.errors import DatasetError

NOW = datetime(2026, 12, 7, 9, 15, 0, tzinfo=timezone.utc)
TEMPLATE = "s3://bucket/predictions/{scheduled_time}.csv"


@pytest.mark.parametrize(("scheduled", "local", "expected"), [
    ("2026-12-07T07:30:00Z", "", "20261207T073000Z"),  # the driver's RFC 3339 schedule time wins
    ("2026-12-07T08:30:00+01:00", "20991231T000000Z", "20261207T073000Z"),  # any offset, shown in UTC
    (run_time.KFP_PLACEHOLDER, "20261207T081000Z", "20261207T081000Z"),  # kfp.local left it: the run's start
    ("", "", "20261207T091500Z"),  # a step called on its own: now
], ids=["driver", "offset", "local-run", "now"])
def test_the_token_becomes_the_schedule_time_of_the_run(scheduled, local, expected):
    assert run_time.expand(TEMPLATE, scheduled, local, NOW) == f"s3://bucket/predictions/{expected}.csv"


def test_two_slots_of_a_recurring_run_write_two_objects():
    first = run_time.expand(TEMPLATE, "2026-12-07T07:30:00Z", "", NOW)
    second = run_time.expand(TEMPLATE, "2026-12-08T07:30:00Z", "", NOW)
    assert first != second and sorted([second, first]) == [first, second]  # names sort by time


def test_a_uri_without_the_token_is_left_alone():
    assert run_time.expand("gs://b/out.csv", "2026-12-07T07:30:00Z", "", NOW) == "gs://b/out.csv"


@pytest.mark.parametrize("uri", ["s3://b/predictions/[[ScheduledTime]].csv", "gs://b/[[CurrentTime]]/out.csv",
                                 "s3://b/[[ScheduledTime.15]].csv"])
def test_kfp_v1_macros_are_refused_with_the_fix(uri):
    with pytest.raises(DatasetError, match=r"never expands.*every run would write the same object.*\{scheduled_time\}"):
        run_time.expand(uri, "2026-12-07T07:30:00Z", "", NOW)


def test_an_unknown_token_is_named():
    with pytest.raises(DatasetError, match=r"unknown token\(s\) \{date\}; the one token is \{scheduled_time\}"):
        run_time.check_template("s3://b/{date}.csv")


def test_an_unreadable_time_is_an_error_not_a_silent_now():
    with pytest.raises(DatasetError, match="Unreadable schedule time 'yesterday'"):
        run_time.expand(TEMPLATE, "yesterday", "", NOW)
