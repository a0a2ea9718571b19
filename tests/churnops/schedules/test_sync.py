"""The schedules sync end to end: the real kfp.Client over HTTP against a local KFP API server.

Every test counts and orders the recorded API calls: that is how the no-op property and the
create-before-delete order are proven.
"""

from __future__ import annotations

import copy
import re

import pytest

from churnops.schedules.state import parse_marker


def mutations(server, ids: bool = True) -> list[str]:
    calls = [f"{call.method} {call.path.split('/apis/v2beta1/')[-1]}" for call in server.mutating_calls()]
    return calls if ids else [re.sub(r"/[0-9a-f-]{36}", "/<id>", call) for call in calls]


def assert_never_none_never_two(server, name: str) -> None:
    """After every write: once the schedule `name` exists it keeps existing, and at most one
    copy of it is enabled."""
    existed = False
    for snapshot in server.history:
        copies = [enabled for run_name, enabled in snapshot.values() if run_name == name]
        assert copies or not existed, f"{name} did not exist after a write: {snapshot}"
        existed = existed or bool(copies)
        assert sum(copies) <= 1, f"two copies of {name} were enabled at once: {snapshot}"
    assert existed, f"{name} never existed"


def test_first_sync_creates_everything_then_a_second_sync_makes_zero_mutating_calls(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    config = write_schedules(schedules_doc())

    first = sync(config)

    assert first.code == 3, first.err
    assert mutations(kfp_server, ids=False) == [
        "POST experiments", "POST pipelines", "POST pipelines/upload_version",
        "POST recurringruns", "POST recurringruns/<id>:enable",  # created disabled, then enabled
        "POST recurringruns", "POST recurringruns/<id>:enable",
    ]
    runs = runs_by_name()
    weekly, daily = runs["weekly"][0], runs["daily"][0]
    assert weekly["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * MON"}}
    assert daily["trigger"]["periodic_schedule"]["interval_second"] == "86400"
    assert weekly["service_account"] == "churnops-pipeline-runner"
    assert weekly["status"] == "ENABLED" and weekly["no_catchup"] is True and weekly["max_concurrency"] == "1"
    assert weekly["runtime_config"]["parameters"] == {"dataset_uri": "s3://bucket/weekly.csv"}
    assert parse_marker(weekly["description"])[0] == "test"
    version = next(iter(kfp_server.state.versions.values()))
    assert version["display_name"].startswith("sha256-")
    assert weekly["pipeline_version_reference"]["pipeline_version_id"] == version["pipeline_version_id"]
    assert version["platform_spec"]["platforms"]["kubernetes"], "the uploaded version carries the platform spec"

    kfp_server.reset_calls()
    second = sync(config)

    assert second.code == 0, second.out + second.err
    assert kfp_server.mutating_calls() == []
    assert "In sync" in second.out
    assert not kfp_server.unmodeled


@pytest.mark.parametrize(
    ("edit", "expected_detail"),
    [
        (lambda doc: doc["recurring_runs"][0].update(cron="0 30 4 * * MON"), "cron '0 0 3 * * MON' -> '0 30 4 * * MON'"),
        (lambda doc: doc["recurring_runs"][0]["parameters"].update(dataset_uri="s3://bucket/v2.csv"),
         "parameters dataset_uri"),
        (lambda doc: doc["recurring_runs"][0].update(max_concurrency=2), "max_concurrency 1 -> 2"),
    ],
    ids=["changed-cron", "changed-parameters", "changed-max-concurrency"],
)
def test_a_changed_run_is_replaced_create_disabled_then_disable_old_enable_new_delete_old(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name, edit, expected_detail):
    doc = schedules_doc()
    sync(write_schedules(doc))
    old_id = runs_by_name()["weekly"][0]["recurring_run_id"]
    edit(doc)
    kfp_server.reset_calls()

    result = sync(write_schedules(doc))

    assert result.code == 3, result.err
    assert expected_detail in result.out
    new_id = _new_id(kfp_server, old_id)
    assert mutations(kfp_server) == [
        "POST recurringruns", f"POST recurringruns/{old_id}:disable", f"POST recurringruns/{new_id}:enable",
        f"DELETE recurringruns/{old_id}",
    ]
    assert kfp_server.mutating_calls()[0].body["mode"] == "DISABLE", "the new copy is created disabled"
    assert_never_none_never_two(kfp_server, "weekly")
    weekly = runs_by_name()["weekly"]
    assert len(weekly) == 1 and weekly[0]["status"] == "ENABLED" and weekly[0]["recurring_run_id"] != old_id
    assert len(runs_by_name()["daily"]) == 1, "the unchanged run is left alone"
    kfp_server.reset_calls()
    assert sync(write_schedules(doc)).code == 0 and kfp_server.mutating_calls() == []


def _new_id(server, old_id: str) -> str:
    return next(run_id for run_id, run_ in server.state.recurring_runs.items()
                if run_["display_name"] == "weekly" and run_id != old_id)


def test_new_pipeline_content_uploads_one_version_and_replaces_the_runs_that_use_it(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name, tmp_path):
    sync(write_schedules(schedules_doc()))
    platform = tmp_path / "platform.yaml"
    platform.write_text("defaults:\n  pod_labels: {app.kubernetes.io/part-of: churnops, team: churn}\n", encoding="utf-8")
    kfp_server.reset_calls()

    result = sync(write_schedules(schedules_doc(platform=str(platform))))

    assert result.code == 3, result.err
    rows = [line.split()[:3] for line in result.out.splitlines()]
    assert ["upload", "pipeline-version", "churn-training"] in rows
    assert ["replace", "recurring-run", "weekly"] in rows and ["replace", "recurring-run", "daily"] in rows
    assert "pipeline version -> sha256-" in result.out
    assert mutations(kfp_server).count("POST pipelines/upload_version") == 1
    assert mutations(kfp_server).count("POST pipelines") == 0, "the pipeline itself already exists"
    assert len(kfp_server.state.versions) == 2
    new_version = max(kfp_server.state.versions.values(), key=lambda v: v["created_at"])
    for name in ("weekly", "daily"):
        (run_,) = runs_by_name()[name]
        assert run_["pipeline_version_reference"]["pipeline_version_id"] == new_version["pipeline_version_id"]
        assert_never_none_never_two(kfp_server, name)


def test_removed_run_is_kept_without_prune_and_deleted_with_prune(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    doc = schedules_doc()
    sync(write_schedules(doc))
    daily_id = runs_by_name()["daily"][0]["recurring_run_id"]
    doc["recurring_runs"] = doc["recurring_runs"][:1]
    kfp_server.reset_calls()

    kept = sync(write_schedules(doc))

    assert kept.code == 0 and kfp_server.mutating_calls() == []
    assert "rerun with --prune" in kept.out
    assert "daily" in runs_by_name()

    pruned = sync(write_schedules(doc), "--prune")

    assert pruned.code == 3, pruned.err
    assert mutations(kfp_server) == [f"DELETE recurringruns/{daily_id}"]
    assert "daily" not in runs_by_name() and "weekly" in runs_by_name()


def test_foreign_and_other_scope_runs_are_never_touched_even_with_prune(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    sync(write_schedules(schedules_doc()))
    experiment_id = next(iter(runs_by_name()["weekly"]))["experiment_id"]
    version_id = next(iter(kfp_server.state.versions))
    common = {"experiment_id": experiment_id, "pipeline_version_reference": {"pipeline_version_id": version_id},
              "trigger": {"cron_schedule": {"cron": "0 0 1 * * *"}}}
    kfp_server.add_recurring_run(display_name="weekly", description="made in the UI", **common)
    kfp_server.add_recurring_run(display_name="hand-made", description="", **common)
    kfp_server.add_recurring_run(display_name="other-env",
                                 description="[managed-by churnops-sync scope=dev spec=0123456789abcdef]", **common)
    kfp_server.reset_calls()

    result = sync(write_schedules(schedules_doc()), "--prune")

    assert result.code == 0, result.out + result.err
    assert kfp_server.mutating_calls() == []
    assert "also exists without the churnops marker" in result.out
    assert len(runs_by_name()["weekly"]) == 2 and "hand-made" in runs_by_name() and "other-env" in runs_by_name()


def test_disabling_in_the_file_disables_in_place_without_recreating(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    doc = schedules_doc()
    sync(write_schedules(doc))
    weekly_id = runs_by_name()["weekly"][0]["recurring_run_id"]
    doc["recurring_runs"][0]["enabled"] = False
    kfp_server.reset_calls()

    result = sync(write_schedules(doc))

    assert result.code == 3
    assert mutations(kfp_server) == [f"POST recurringruns/{weekly_id}:disable"]
    assert runs_by_name()["weekly"][0]["status"] == "DISABLED"


def test_dry_run_prints_the_plan_table_and_changes_nothing(sync, kfp_server, write_schedules, schedules_doc):
    result = sync(write_schedules(schedules_doc()), "--dry-run")

    assert result.code == 3
    assert kfp_server.mutating_calls() == []
    lines = result.out.splitlines()
    assert lines[0].split() == ["ACTION", "KIND", "NAME", "DETAIL"]
    assert any(line.split()[:3] == ["create", "recurring-run", "weekly"] for line in lines)
    assert "Plan: 5 to change, 0 unchanged." in result.out


def test_api_error_mid_way_reports_what_was_applied_and_a_rerun_converges(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    config = write_schedules(schedules_doc())
    kfp_server.fail("POST", r"/recurringruns$", status=400, skip=1)  # the second create is refused

    failed = sync(config)

    assert failed.code == 5
    assert "done: created recurring run weekly" in failed.out
    assert "FAILED: create recurring-run daily" in failed.out and "HTTP 400" in failed.out
    assert list(runs_by_name()) == ["weekly"]

    rerun = sync(config)

    assert rerun.code == 3, rerun.err
    assert sorted(runs_by_name()) == ["daily", "weekly"]
    kfp_server.reset_calls()
    assert sync(config).code == 0 and kfp_server.mutating_calls() == []


def test_interrupted_replace_keeps_one_enabled_copy_and_the_rerun_finishes_it(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    doc = schedules_doc()
    sync(write_schedules(doc))
    old_id = runs_by_name()["weekly"][0]["recurring_run_id"]
    changed = copy.deepcopy(doc)
    changed["recurring_runs"][0]["cron"] = "0 0 5 * * MON"
    kfp_server.fail("POST", r":disable$", status=400)  # the old copy cannot be disabled

    failed = sync(write_schedules(changed))

    assert failed.code == 5
    weekly = runs_by_name()["weekly"]
    assert len(weekly) == 2 and sum(r["status"] == "ENABLED" for r in weekly) == 1
    assert next(r for r in weekly if r["recurring_run_id"] == old_id)["status"] == "ENABLED"
    kfp_server.reset_calls()

    rerun = sync(write_schedules(changed))

    assert rerun.code == 3, rerun.err
    assert "finish an earlier replace" in rerun.out
    assert mutations(kfp_server)[0] == f"POST recurringruns/{old_id}:disable", "no second new copy"
    (weekly,) = runs_by_name()["weekly"]
    assert weekly["recurring_run_id"] != old_id and weekly["status"] == "ENABLED"
    assert weekly["trigger"]["cron_schedule"]["cron"] == "0 0 5 * * MON"
    assert_never_none_never_two(kfp_server, "weekly")


def test_a_create_whose_response_was_lost_is_retried_without_ever_enabling_two_copies(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    config = write_schedules(schedules_doc())
    kfp_server.fail("POST", r"/recurringruns$", status=503, applied=True)  # created, but the answer is lost

    assert sync(config).code == 3
    weekly = runs_by_name()["weekly"]
    assert len(weekly) == 2 and [r["status"] for r in weekly].count("ENABLED") == 1
    assert_never_none_never_two(kfp_server, "weekly")

    cleanup = sync(config)

    assert cleanup.code == 3 and "finish an earlier replace" in cleanup.out
    (weekly,) = runs_by_name()["weekly"]
    assert weekly["status"] == "ENABLED"
    kfp_server.reset_calls()
    assert sync(config).code == 0 and kfp_server.mutating_calls() == []


@pytest.mark.parametrize("path", [r"/experiments$", r"/pipelines$", r"/upload_version$"])
def test_a_lost_create_answer_for_a_named_object_is_found_by_name_on_409(
        sync, kfp_server, write_schedules, schedules_doc, path):
    config = write_schedules(schedules_doc())
    kfp_server.fail("POST", path, status=503, applied=True)

    assert sync(config).code == 3
    statuses = [c.status for c in kfp_server.calls if c.method == "POST" and re.search(path, c.path)]
    assert statuses == [503, 409]
    assert (len(kfp_server.state.experiments), len(kfp_server.state.pipelines), len(kfp_server.state.versions)) == (2, 1, 1)


def test_transient_errors_are_retried_with_a_bound(sync, kfp_server, write_schedules, schedules_doc):
    config = write_schedules(schedules_doc())
    kfp_server.fail("GET", r"/recurringruns$", status=503, times=2)

    assert sync(config).code == 3
    statuses = [c.status for c in kfp_server.calls if c.method == "GET" and c.path.endswith("/recurringruns")]
    assert statuses == [503, 503, 200]

    kfp_server.fail("GET", r"/recurringruns$", status=503, times=10)
    kfp_server.reset_calls()

    given_up = sync(config)

    assert given_up.code == 5
    assert "after 4 attempts" in given_up.err
    assert kfp_server.mutating_calls() == []


def test_unreachable_kfp_is_an_api_error(kfp_server, write_schedules, schedules_doc, capsys):
    from churnops.schedules.cli import build_parser, run

    args = build_parser().parse_args(["--config", str(write_schedules(schedules_doc())), "--host", "http://127.0.0.1:9"])
    assert run(args) == 5
    assert "cannot reach KFP at http://127.0.0.1:9" in capsys.readouterr().err


def test_an_archived_experiment_is_unarchived_so_its_runs_can_start(sync, kfp_server, write_schedules, schedules_doc):
    config = write_schedules(schedules_doc())
    sync(config)
    (experiment_id,) = [i for i, e in kfp_server.state.experiments.items() if e["display_name"] == "churn-test"]
    kfp_server.state.experiments[experiment_id]["storage_state"] = "ARCHIVED"
    kfp_server.reset_calls()

    result = sync(config)

    assert result.code == 3
    assert mutations(kfp_server) == [f"POST experiments/{experiment_id}:unarchive"]


def test_a_namespace_scopes_every_read_and_write(sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    config = write_schedules(schedules_doc())
    sync(config)  # the same scope, in the default namespace: must stay invisible to team-a's sync
    kfp_server.reset_calls()

    result = sync(config, "--namespace", "team-a")

    assert result.code == 3, result.err
    lists = [c for c in kfp_server.calls if c.method == "GET" and c.path.endswith(("/experiments", "/recurringruns"))]
    assert lists and all(c.query.get("namespace") == "team-a" for c in lists)
    assert {r["namespace"] for runs in runs_by_name().values() for r in runs} == {"", "team-a"}
    assert all(len(runs) == 2 for runs in runs_by_name().values()), "the default namespace's runs are untouched"


def test_without_host_outside_a_cluster_the_error_says_pass_host(write_schedules, schedules_doc, tmp_path,
                                                                  monkeypatch, capsys):
    from churnops.schedules.cli import build_parser, run

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    assert run(build_parser().parse_args(["--config", str(write_schedules(schedules_doc()))])) == 5
    assert "Pass --host http://HOST:PORT" in capsys.readouterr().err


def test_the_declared_pipeline_root_reaches_kfp_and_a_changed_one_replaces_the_run(
        sync, kfp_server, write_schedules, schedules_doc, runs_by_name):
    """Issue 23: no pipeline root meant prod's splits, models and predictions went to KFP's in-cluster
    MinIO (minio://mlpipeline/v2/artifacts), not to GCS, and nothing said so."""
    doc = schedules_doc()
    doc["defaults"]["pipeline_root"] = "gs://churnops-kfp-artifacts/prod"
    doc["recurring_runs"][1]["pipeline_root"] = "gs://churnops-kfp-artifacts/daily"
    config = write_schedules(doc)
    assert sync(config).code == 3
    runs = runs_by_name()
    assert runs["weekly"][0]["runtime_config"]["pipeline_root"] == "gs://churnops-kfp-artifacts/prod"
    assert runs["daily"][0]["runtime_config"]["pipeline_root"] == "gs://churnops-kfp-artifacts/daily"
    kfp_server.reset_calls()
    assert sync(config).code == 0 and mutations(kfp_server) == []

    doc["defaults"]["pipeline_root"] = "gs://churnops-kfp-artifacts/prod-v2"
    changed = sync(write_schedules(doc))
    assert changed.code == 3 and "pipeline_root 'gs://churnops-kfp-artifacts/prod' -> 'gs://churnops-kfp-artifacts/prod-v2'" \
        in changed.out
    runs = runs_by_name()
    assert [run["runtime_config"]["pipeline_root"] for run in runs["weekly"]] == ["gs://churnops-kfp-artifacts/prod-v2"]
