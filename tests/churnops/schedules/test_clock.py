"""The sync against KFP's real scheduling semantics, on the double's virtual clock (issue 12).

Each test drives the sync CLI over HTTP (the real kfp.Client) and moves the double's clock with
`advance`, which fires runs by the ScheduledWorkflow controller's rules (tests/support/kfp_controller.py).
Nothing sleeps. The virtual clock starts on Monday 2026-01-05 00:00 UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

DAY = 86_400
HOUR = 3_600


def daily_and_weekly(**changes):
    """A daily (06:00) and a weekly (Monday 03:00) cron schedule."""
    runs = [
        {"name": "daily", "pipeline": "churn-training", "cron": "0 0 6 * * *",
         "parameters": {"dataset_uri": "s3://bucket/daily.csv"}},
        {"name": "weekly", "pipeline": "churn-training", "cron": "0 0 3 * * MON",
         "parameters": {"dataset_uri": "s3://bucket/weekly.csv"}},
    ]
    for run in runs:
        run.update(changes.get(run["name"], {}))
    return runs


SYNC_USER = "system:serviceaccount:churnops:churnops-schedules-sync"


@pytest.fixture
def multi_user_flags(kfp_server, tmp_path):
    """Turn the double into multi-user KFP; return the flags the sync Job passes there."""

    def enable(audiences=("pipelines.kubeflow.org",), namespace="team-a", grant=True) -> tuple[str, ...]:
        kfp_server.multi_user = True
        token = tmp_path / "token"
        token.write_text("projected-token-1")
        kfp_server.tokens["projected-token-1"] = (SYNC_USER, tuple(audiences))
        if grant:
            kfp_server.grant(SYNC_USER, namespace)
        return ("--namespace", namespace, "--token-file", str(token))

    return enable


def assert_never_two_enabled(server, name: str) -> None:
    for snapshot in server.history:  # after every write
        assert sum(enabled for run_name, enabled in snapshot.values() if run_name == name) <= 1, snapshot


def fires(server, name: str) -> list[str]:
    return [datetime.fromtimestamp(run.scheduled, tz=timezone.utc).strftime("%a %H:%M")
            for run in server.fired if run.name == name]


def test_a_replace_never_kills_the_run_in_flight(sync, kfp_server, write_schedules, schedules_doc):
    """Problem 2: DeleteRecurringRun without ORPHAN lets Kubernetes GC delete the running Workflow."""
    kfp_server.run_seconds = 4 * HOUR
    config = write_schedules(schedules_doc(recurring_runs=daily_and_weekly()))
    assert sync(config).code == 3
    kfp_server.advance(6 * HOUR + 60)  # Monday 06:01: the 06:00 run is in flight
    in_flight = [run for run in kfp_server.fired if run.name == "daily" and run.state == "RUNNING"]
    assert len(in_flight) == 1

    changed = schedules_doc(recurring_runs=daily_and_weekly(daily={"parameters": {"dataset_uri": "s3://b/new.csv"}}))
    assert sync(write_schedules(changed)).code == 3  # replace: create new, enable, delete old
    assert kfp_server.killed_runs() == []

    kfp_server.advance(5 * HOUR)
    assert in_flight[0].state == "SUCCEEDED"
    deletes = [call for call in kfp_server.mutating_calls() if call.method == "DELETE"]
    assert deletes and all(call.query.get("propagation_policy") == "ORPHAN" for call in deletes)


@pytest.mark.parametrize("catchup", [False, True])
def test_a_replacement_never_fires_a_past_slot_or_backfills(catchup, sync, kfp_server, write_schedules,
                                                            schedules_doc):
    """Problem 3: with a past start_time and no LastTriggeredTime, the controller counts from
    start_time: no_catchup fires the latest past slot at once, catchup backfills every slot."""
    past = {"start_time": "2025-12-01T00:00:00Z", "catchup": catchup}
    kfp_server.advance(2 * DAY + 12 * HOUR)  # Wednesday 12:00
    config = write_schedules(schedules_doc(recurring_runs=daily_and_weekly(daily=past, weekly=past)))
    assert sync(config).code == 3
    assert kfp_server.advance(HOUR) == [], "a new schedule fired a past slot"

    changed = {**past, "parameters": {"dataset_uri": "s3://b/new.csv"}}
    assert sync(write_schedules(schedules_doc(recurring_runs=daily_and_weekly(daily=changed, weekly=changed)))).code == 3
    assert kfp_server.advance(HOUR) == [], "a replacement fired a past slot"

    kfp_server.advance(5 * DAY)  # to Monday 13:00
    assert fires(kfp_server, "daily") == ["Thu 06:00", "Fri 06:00", "Sat 06:00", "Sun 06:00", "Mon 06:00"]
    assert fires(kfp_server, "weekly") == ["Mon 03:00"]


@pytest.mark.parametrize("multi_user", [False, True], ids=["single-user", "multi-user"])
def test_a_week_with_a_change_midweek_fires_exactly_the_expected_runs(multi_user, sync, kfp_server,
                                                                     write_schedules, schedules_doc,
                                                                     multi_user_flags):
    """Scenario: daily 06:00 and weekly Monday 03:00 from Monday 00:00; on Wednesday 12:00 the daily
    moves to 07:00 and the weekly's parameters change. One week: exactly these fires, never two
    enabled copies, never a killed run, and a no-op sync makes zero writes."""
    flags = multi_user_flags() if multi_user else ()
    kfp_server.run_seconds = 2 * HOUR
    assert sync(write_schedules(schedules_doc(recurring_runs=daily_and_weekly())), *flags).code == 3
    kfp_server.advance(2 * DAY + 12 * HOUR)
    changed = daily_and_weekly(daily={"cron": "0 0 7 * * *"}, weekly={"parameters": {"dataset_uri": "s3://b/w2.csv"}})
    assert sync(write_schedules(schedules_doc(recurring_runs=changed)), *flags).code == 3
    kfp_server.advance(4 * DAY + 12 * HOUR)  # to Monday 00:00 of week 2
    kfp_server.advance(4 * HOUR)  # Monday 04:00: the weekly's second fire

    assert fires(kfp_server, "daily") == ["Mon 06:00", "Tue 06:00", "Wed 06:00",
                                          "Thu 07:00", "Fri 07:00", "Sat 07:00", "Sun 07:00"]
    assert fires(kfp_server, "weekly") == ["Mon 03:00", "Mon 03:00"]
    assert kfp_server.killed_runs() == []
    assert_never_two_enabled(kfp_server, "daily")
    assert_never_two_enabled(kfp_server, "weekly")
    kfp_server.reset_calls()
    assert sync(write_schedules(schedules_doc(recurring_runs=changed)), *flags).code == 0
    assert kfp_server.mutating_calls() == []
    if multi_user:
        assert {run["namespace"] for run in kfp_server.state.recurring_runs.values()} == {"team-a"}
    assert kfp_server.advance(HOUR) == []  # the no-op sync changed nothing on the clock either


@pytest.mark.parametrize(("setup", "status"), [
    ({"audiences": ("https://kubernetes.default.svc",)}, "HTTP 401"),  # the pod's default SA token
    ({"grant": False}, "HTTP 403"),  # no Role on pipelines.kubeflow.org in the namespace
])
def test_multi_user_kfp_refuses_a_wrong_audience_token_or_missing_rbac(setup, status, sync, kfp_server,
                                                                       write_schedules, schedules_doc,
                                                                       multi_user_flags):
    """Problem 7: multi-user KFP reviews the token for audience pipelines.kubeflow.org and checks
    RBAC on pipelines.kubeflow.org resources in the namespace."""
    flags = multi_user_flags(**setup)
    result = sync(write_schedules(schedules_doc()), *flags)
    assert result.code == 5
    assert status in result.err
    assert kfp_server.state.recurring_runs == {}
