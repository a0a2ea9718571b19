"""The sync on KFP 2.17's identity and error rules, against the double (issue 12, problems 5 and 6)."""

from __future__ import annotations


def test_objects_are_found_by_name_after_their_display_names_change(sync, kfp_server, write_schedules,
                                                                    schedules_doc):
    """Problem 5: uniqueness is on `name`; display names can be changed in place (UI, API)."""
    config = write_schedules(schedules_doc())
    assert sync(config).code == 3
    for pipeline_id in kfp_server.state.pipelines:
        kfp_server.rename("pipeline", pipeline_id, "Churn training (renamed in the UI)")
    for version_id in kfp_server.state.versions:
        kfp_server.rename("version", version_id, "renamed version")
    kfp_server.reset_calls()

    result = sync(config)

    assert result.code == 0, result.out + result.err
    assert kfp_server.mutating_calls() == []


def test_a_create_answered_500_is_not_retried_and_the_next_sync_converges(sync, kfp_server, write_schedules,
                                                                          schedules_doc, runs_by_name):
    """Problem 6: KFP answers 500 for deterministic failures and after a half-done create;
    retrying the POST adds a copy each time. The next sync adopts or removes what was left."""
    config = write_schedules(schedules_doc())
    kfp_server.fail("POST", r"/recurringruns$", 500, applied=True)  # created, but the client hears 500

    first = sync(config)

    assert first.code == 5, first.out + first.err
    creates = [call for call in kfp_server.calls if call.method == "POST" and call.path.endswith("/recurringruns")]
    assert len(creates) == 1, [str(call) for call in creates]

    assert sync(config).code == 3
    assert {name: len(copies) for name, copies in runs_by_name().items()} == {"weekly": 1, "daily": 1}
    assert all(copy["status"] == "ENABLED" for copies in runs_by_name().values() for copy in copies)
    kfp_server.reset_calls()
    assert sync(config).code == 0 and kfp_server.mutating_calls() == []


def test_enable_of_a_run_whose_scheduled_workflow_is_gone_replaces_it(sync, kfp_server, write_schedules,
                                                                     schedules_doc, runs_by_name):
    """Problem 6: KFP 2.17 answers 500 to Enable when the ScheduledWorkflow is gone
    (resource_manager.go: ChangeJobMode); a retry never helps. The sync replaces that run."""
    doc = schedules_doc()
    doc["recurring_runs"][0]["enabled"] = False
    assert sync(write_schedules(doc)).code == 3
    (broken_id,) = [run["recurring_run_id"] for run in runs_by_name()["weekly"]]
    kfp_server.delete_scheduled_workflow(broken_id)
    kfp_server.reset_calls()

    result = sync(write_schedules(schedules_doc()))

    assert result.code == 3, result.out + result.err
    enables = [call for call in kfp_server.calls if call.path.endswith(f"{broken_id}:enable")]
    assert len(enables) == 1, [str(call) for call in enables]  # not retried
    (weekly,) = runs_by_name()["weekly"]
    assert weekly["recurring_run_id"] != broken_id and weekly["status"] == "ENABLED"
    assert all(sum(enabled for _, enabled in state.values()) <= 2 for state in kfp_server.history)
    kfp_server.advance(8 * 86400)
    assert any(run.owner == weekly["recurring_run_id"] for run in kfp_server.fired)
    kfp_server.reset_calls()
    assert sync(write_schedules(schedules_doc())).code == 0 and kfp_server.mutating_calls() == []
