"""Validation of schedules files: every kind of problem is found, named, and nothing is applied."""

# No `from __future__ import annotations`: KFP reads the real annotations of the pipeline below.
import pytest
from kfp import dsl

from churnops.errors import ConfigError
from churnops.schedules.config import load_config


@dsl.component(base_image="python:3.11-slim", install_kfp_package=False)
def _echo(text: str) -> str:
    return text


@dsl.pipeline(name="needs-input")
def needs_input(source: str, retries: int = 1) -> str:
    """A pipeline with a required parameter (the training pipeline has none)."""
    return _echo(text=source).output


def run_entry(**fields):
    entry = {"name": "weekly", "pipeline": "churn-training", "cron": "0 0 3 * * MON"}
    entry.update(fields)
    return {k: v for k, v in entry.items() if v is not None}


INVALID = [
    # (id, edit of the valid document, field, words of the message)
    ("missing-scope", lambda d: d.pop("scope"), "scope", "required"),
    ("unknown-top-key", lambda d: d.update(schedules=[]), "schedules", "unknown key"),
    ("unknown-run-key", lambda d: d["recurring_runs"][0].update(crontab="x"), "crontab", "unknown key"),
    ("five-field-cron", lambda d: d["recurring_runs"][0].update(cron="0 3 * * 1"), "cron", "write '0 0 3 * * 1'"),
    ("bad-cron-field", lambda d: d["recurring_runs"][0].update(cron="0 0 25 * * *"), "cron", "hours field"),
    ("cron-and-interval", lambda d: d["recurring_runs"][0].update(interval_seconds=60), "cron", "exactly one"),
    ("no-trigger", lambda d: d["recurring_runs"][0].pop("cron"), "cron", "exactly one"),
    ("zero-interval", lambda d: d["recurring_runs"][1].update(interval_seconds=0), "interval_seconds", ">= 1"),
    ("unknown-pipeline-function", lambda d: d["pipelines"][0].update(function="nope"), "function", "unknown pipeline"),
    ("undeclared-pipeline", lambda d: d["recurring_runs"][0].update(pipeline="other"), "pipeline", "not declared"),
    ("undeclared-experiment", lambda d: d["recurring_runs"][0].update(experiment="x"), "experiment", "not declared"),
    ("duplicate-run", lambda d: d["recurring_runs"].append(run_entry()), "name", "duplicate"),
    ("duplicate-pipeline", lambda d: d["pipelines"].append(dict(d["pipelines"][0])), "name", "duplicate"),
    ("bad-run-name", lambda d: d["recurring_runs"][0].update(name="Weekly Run"), "name", "lowercase"),
    ("undeclared-parameter", lambda d: d["recurring_runs"][0]["parameters"].update(learning_rate=0.1),
     "parameters", "'learning_rate' is not a parameter"),
    ("wrong-parameter-type", lambda d: d["recurring_runs"][0]["parameters"].update(random_state="42"),
     "parameters", "must be Integer"),
    ("concurrency-over-limit", lambda d: d["recurring_runs"][0].update(max_concurrency=11), "max_concurrency", "1 to 10"),
    ("bad-start-time", lambda d: d["recurring_runs"][0].update(start_time="next monday"), "start_time", "RFC 3339"),
    ("end-before-start", lambda d: d["recurring_runs"][0].update(start_time="2026-02-01T00:00:00Z",
                                                                 end_time="2026-01-01T00:00:00Z"), "end_time", "after"),
    ("bad-service-account", lambda d: d["recurring_runs"][0].update(service_account="Runner_SA"),
     "service_account", "ServiceAccount"),
    ("enabled-not-bool", lambda d: d["recurring_runs"][0].update(enabled="yes please"), "enabled", "true or false"),
    ("missing-platform-file", lambda d: d.update(platform="nowhere.yaml"), "platform", "not found"),
    ("pipeline-root-not-a-store", lambda d: d["defaults"].update(pipeline_root="/mnt/artifacts"),
     "pipeline_root", "gs://BUCKET/PATH"),
    ("pipeline-root-http", lambda d: d["recurring_runs"][0].update(pipeline_root="https://bucket/x"),
     "pipeline_root", "object-store URI"),
]


@pytest.mark.parametrize(("edit", "field", "words"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_each_kind_of_invalid_file_is_refused_with_the_entry_field_and_fix(
        edit, field, words, schedules_doc, write_schedules):
    doc = schedules_doc()
    edit(doc)
    path = write_schedules(doc)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert any(p.field == field and words in p.message and p.file == str(path) for p in raised.value.problems), \
        raised.value.problems


def test_a_required_parameter_left_unset_is_reported(schedules_doc, write_schedules):
    doc = schedules_doc(pipelines=[{"name": "churn-training", "function": "needs_input"}])
    doc["recurring_runs"] = [run_entry(parameters={"retries": 2})]

    with pytest.raises(ConfigError) as raised:
        load_config(write_schedules(doc), pipelines={"needs_input": needs_input})

    (problem,) = raised.value.problems
    assert problem.entry == "recurring_runs[0] (weekly)"
    assert "'source' is required" in problem.message


def test_every_problem_is_listed_at_once_and_kfp_is_not_contacted(schedules_doc, write_schedules, sync, kfp_server):
    doc = schedules_doc()
    doc["recurring_runs"][0]["cron"] = "0 3 * * 1"
    doc["recurring_runs"][1]["parameters"]["colour"] = "blue"
    doc["experiments"].append({"name": "churn-test"})

    result = sync(write_schedules(doc))

    assert result.code == 4
    assert "3 problems found" in result.err and "nothing was changed" in result.err
    assert "recurring_runs[0] (weekly): cron" in result.err
    assert "recurring_runs[1] (daily): parameters: 'colour'" in result.err
    assert "experiments[1] (churn-test): name: duplicate" in result.err
    assert kfp_server.calls == []


@pytest.mark.parametrize("text", ["scope: [unclosed", "- just\n- a list\n"], ids=["not-yaml", "not-a-mapping"])
def test_unreadable_files_are_invalid_config(text, write_schedules, sync, kfp_server):
    result = sync(write_schedules(text))

    assert result.code == 4
    assert kfp_server.calls == []


def test_platform_file_problems_are_listed_with_the_schedules_problems(schedules_doc, write_schedules, tmp_path):
    platform = tmp_path / "platform.yaml"
    platform.write_text("defaults:\n  caching: maybe\nsteps:\n  trian_model: {}\n", encoding="utf-8")
    doc = schedules_doc(platform=str(platform))
    doc["recurring_runs"][0]["cron"] = "every monday"

    with pytest.raises(ConfigError) as raised:
        load_config(write_schedules(doc))

    fields = {(p.file, p.entry, p.field) for p in raised.value.problems}
    assert (str(platform), "defaults", "caching") in fields
    assert (str(platform), "steps.trian_model", "") in fields
    assert any(p.field == "cron" for p in raised.value.problems)


def test_defaults_fill_every_run_and_run_parameters_override_default_parameters(schedules_doc, write_schedules):
    doc = schedules_doc()
    doc["defaults"].update(max_concurrency=3, catchup=True, parameters={"model_name": "m", "dataset_uri": "s3://d"})

    config = load_config(write_schedules(doc))

    weekly, daily = config.recurring_runs
    assert (weekly.max_concurrency, weekly.catchup, weekly.enabled) == (3, True, True)
    assert weekly.parameters == {"model_name": "m", "dataset_uri": "s3://bucket/weekly.csv"}
    assert daily.parameters["dataset_uri"] == "s3://d"
    assert weekly.experiment == "churn-test" and weekly.service_account == "churnops-pipeline-runner"


@pytest.mark.parametrize(("parameters", "named"), [
    ({"model_type": "xgboost"}, "model_type 'xgboost'"),
    ({"model_type": "logistic_regression", "hyperparameters": {"C": "big"}}, "hyperparameter 'C'"),
    ({"test_size_ratio": 1.5}, "test_size_ratio"),
    ({"promotion_min_test_rows": -1}, "promotion_min_test_rows must be a whole number >= 0"),
    ({"promotion_min_class_rows": 2.5}, "promotion_min_class_rows must be a whole number >= 0"),
])
def test_check_refuses_training_parameters_the_pipeline_would_refuse(parameters, named, schedules_doc,
                                                                      write_schedules, sync, kfp_server):
    """Issue 12, problem 8: these passed --check (rc 0) and failed only on the cluster."""
    doc = schedules_doc()
    doc["recurring_runs"][0]["parameters"].update(parameters)
    result = sync(write_schedules(doc), "--check")
    assert result.code == 4, result.out + result.err
    assert "recurring_runs[0] (weekly): parameters: " in result.err and named in result.err
    assert kfp_server.calls == []


def test_check_refuses_a_description_that_does_not_fit_kfps_255_characters_with_the_marker(
        schedules_doc, write_schedules, sync, kfp_server):
    """Issue 12, problem 4: on KFP's MySQL store the insert fails with 500 after the
    ScheduledWorkflow exists, leaving an orphan on every retry."""
    doc = schedules_doc()
    doc["recurring_runs"][1]["description"] = "d" * 230  # fits 255 alone, not with the marker
    result = sync(write_schedules(doc), "--check")
    assert result.code == 4, result.out + result.err
    assert "recurring_runs[1] (daily): description: 230 characters" in result.err
    assert "shorten it to at most" in result.err
    assert kfp_server.calls == []


def test_the_longest_description_check_allows_fits_the_double_s_mysql_column(
        schedules_doc, write_schedules, sync, kfp_server):
    from churnops.schedules.marker import room_for_description

    doc = schedules_doc()
    doc["recurring_runs"][1]["description"] = "d" * room_for_description(doc["scope"])
    assert sync(write_schedules(doc)).code == 3
    assert kfp_server.state.hidden_schedules == {}


@pytest.mark.parametrize("uri", ["s3://b/predictions/[[ScheduledTime]].csv", "s3://b/{today}.csv"],
                         ids=["kfp-v1-macro", "unknown-token"])
def test_an_output_uri_that_would_name_every_run_alike_is_refused(uri, schedules_doc, write_schedules):
    """Issue 23: `[[ScheduledTime]]` passed --check and every daily scoring run overwrote one object."""
    doc = schedules_doc(pipelines=[{"name": "churn-inference", "function": "inference"}])
    doc["recurring_runs"] = [run_entry(pipeline="churn-inference", parameters={"output_uri": uri})]

    with pytest.raises(ConfigError) as raised:
        load_config(write_schedules(doc))

    (problem,) = raised.value.problems
    assert problem.field == "parameters" and "{scheduled_time}" in problem.message, problem


def test_the_shipped_scoring_runs_write_one_object_per_schedule_time():
    from support.paths import REPO

    outputs = {}
    for path in sorted((REPO / "schedules").glob("*.yaml")):
        for run in load_config(path).recurring_runs:
            if "output_uri" in run.parameters:
                outputs[f"{path.name}:{run.name}"] = run.parameters["output_uri"]
    assert outputs and all(uri.endswith("/{scheduled_time}.csv") for uri in outputs.values()), outputs
