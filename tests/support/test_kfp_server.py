"""The local KFP API server answers the real kfp.Client the way KFP does (pages, filters, errors)."""

from __future__ import annotations

import json

import kfp_server_api
import kubernetes
import pytest

from churnops.schedules.cluster import discover_host
from churnops.schedules.kfp_api import KfpApi, connect, eq_filter
from support.kfp_server import FakeKfpServer


@pytest.fixture
def server():
    with FakeKfpServer() as running:
        yield running


@pytest.fixture
def client(server):
    return connect(server.url, None, None)


# The least a v2 package can be for KFP's upload (template/v2_template.go NewV2SpecTemplate).
MINIMAL_SPEC = "schemaVersion: 2.1.0\npipelineInfo: {name: p}\nroot: {dag: {tasks: {}}}\n"


def add_runs(server: FakeKfpServer, count: int) -> None:
    version = server._new_version(server._create_pipeline({"display_name": "p"})["pipeline_id"], "v", "",
                                  MINIMAL_SPEC.encode())
    for index in range(count):
        server.add_recurring_run(display_name=f"run-{index:03d}",
                                 pipeline_version_reference={"pipeline_version_id": version["pipeline_version_id"]},
                                 trigger={"periodic_schedule": {"interval_second": 60}})


def test_recurring_runs_are_paged_with_page_tokens_until_the_last_page(server, client):
    add_runs(server, 23)

    runs = KfpApi(client, page_size=10).list_recurring_runs()

    assert [run.display_name for run in runs] == [f"run-{i:03d}" for i in range(23)]
    pages = [call for call in server.calls if call.path.endswith("/recurringruns")]
    assert [call.query.get("page_token", "") == "" for call in pages] == [True, False, False]


def test_a_page_token_from_another_query_is_refused(server, client):
    add_runs(server, 3)
    token = client.list_recurring_runs(page_size=1).next_page_token

    with pytest.raises(kfp_server_api.ApiException) as raised:
        client.list_pipelines(page_token=token)

    assert raised.value.status == 400 and "invalid page token" in raised.value.body


def test_filters_select_by_display_name_and_bad_filters_are_refused(server, client):
    client.experiments.experiment_service_create_experiment(experiment={"display_name": "a"})
    client.experiments.experiment_service_create_experiment(experiment={"display_name": "b"})

    found = client.get_experiment(experiment_name="b")

    assert found.display_name == "b"
    with pytest.raises(kfp_server_api.ApiException) as raised:
        client.list_experiments(filter=json.dumps({"predicates": [{"operation": "LIKE", "key": "display_name",
                                                                   "string_value": "a"}]}))
    assert raised.value.status == 400
    with pytest.raises(kfp_server_api.ApiException):
        client.list_experiments(filter=eq_filter("colour", "a"))


def test_missing_ids_are_404_and_duplicate_names_are_409(server, client):
    with pytest.raises(kfp_server_api.ApiException) as missing:
        client.get_recurring_run("no-such-id")
    assert missing.value.status == 404
    with pytest.raises(kfp_server_api.ApiException) as missing_delete:
        client.delete_recurring_run("no-such-id")
    assert missing_delete.value.status == 404

    client.pipelines.pipeline_service_create_pipeline(pipeline={"display_name": "p"})
    with pytest.raises(kfp_server_api.ApiException) as duplicate:
        client.pipelines.pipeline_service_create_pipeline(pipeline={"display_name": "p"})
    assert duplicate.value.status == 409


def test_upload_stores_the_pipeline_and_platform_spec_and_refuses_a_duplicate_version(server, client, tmp_path):
    package = tmp_path / "p.yaml"
    package.write_text(MINIMAL_SPEC + "---\nplatforms: {kubernetes: {}}\n", encoding="utf-8")
    pipeline = client.upload_pipeline(str(package), pipeline_name="p")

    version = client.upload_pipeline_version(str(package), "v2", pipeline_id=pipeline.pipeline_id)

    assert server.state.versions[version.pipeline_version_id]["platform_spec"] == {"platforms": {"kubernetes": {}}}
    with pytest.raises(kfp_server_api.ApiException) as duplicate:
        client.upload_pipeline_version(str(package), "v2", pipeline_id=pipeline.pipeline_id)
    assert duplicate.value.status == 409


def test_the_token_file_is_sent_as_a_bearer_token_on_every_call(server, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cr3t", encoding="utf-8")

    connect(server.url, None, str(token)).list_experiments()

    assert server.calls and all(call.authorization == "Bearer s3cr3t" for call in server.calls)


def test_the_kfp_service_is_found_through_the_kubernetes_api(server):
    configuration = kubernetes.client.Configuration(host=server.url)
    core_v1 = kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(configuration))

    assert discover_host(core_v1) == "http://ml-pipeline.kubeflow.svc.cluster.local:8888"


# -- rules read from kubeflow/pipelines 2.17.0 (table in docs/schedules.md) ------------------------

def test_page_size_is_cut_to_the_api_servers_cap_of_200(server, client):
    add_runs(server, 205)
    page = client.list_recurring_runs(page_size=500)
    assert len(page.recurring_runs) == 200 and page.next_page_token


def test_filter_keys_outside_the_resources_allow_list_are_refused(server, client):
    with pytest.raises(kfp_server_api.ApiException) as refused:
        client.list_pipelines(filter=eq_filter("colour", "blue"))
    assert refused.value.status == 400
    assert "unrecognized field" in json.loads(refused.value.body)["message"]
    client.list_pipelines(filter=eq_filter("name", "p"))  # name is allowed


@pytest.mark.parametrize(("cron", "after", "expected"), [
    ("0 0 3 * * MON", "2026-01-05T03:00:00", "2026-01-12T03:00:00"),  # strictly after
    ("0 0 6 * * *", "2026-01-05T07:00:00", "2026-01-06T06:00:00"),
    ("0 3 * * 1", "2026-01-05T00:00:00", "2026-01-05T00:03:00"),  # 5 fields: seconds first (robfig v1)
    ("0 0 0 1 * MON", "2026-01-05T00:00:00", "2026-01-12T00:00:00"),  # dom and dow both set: either
    ("@daily", "2026-01-05T00:00:00", "2026-01-06T00:00:00"),
])
def test_cron_next_follows_robfig_v1(cron, after, expected):
    from datetime import datetime, timezone

    from support.kfp_controller import Cron

    start = datetime.fromisoformat(after).replace(tzinfo=timezone.utc)
    assert Cron.parse(cron).next(start).strftime("%Y-%m-%dT%H:%M:%S") == expected


def test_next_fire_counts_from_start_time_then_catches_up_or_not():
    from support.kfp_controller import Schedule

    day, monday = 86_400, 1_767_571_200  # 2026-01-05T00:00:00Z
    start = monday - 10 * day
    no_catchup = Schedule("0 0 6 * * *", None, start, None, catchup=False, created=monday)
    assert no_catchup.next_epoch(monday) == monday - day + 6 * 3600  # the latest past slot, at once
    catchup = Schedule("0 0 6 * * *", None, start, None, catchup=True, created=monday)
    assert catchup.next_epoch(monday) == start + 6 * 3600  # the first slot after start_time: backfill
    fresh = Schedule("0 0 6 * * *", None, None, None, catchup=True, created=monday)
    assert fresh.next_epoch(monday) == monday + 6 * 3600  # no start_time: from creation


@pytest.mark.parametrize(("spec", "words"), [
    ("pipelineInfo: {name: p}\nroot: {dag: {}}\n", "only supports schema version 2.1.0"),
    ("schemaVersion: 2.1.0\npipelineInfo: {name: ''}\nroot: {dag: {}}\n", "name is empty"),
    ("schemaVersion: 2.1.0\npipelineInfo: {name: p}\n", "root component is empty"),
    (MINIMAL_SPEC + "---\n" + MINIMAL_SPEC, "multiple pipeline specs provided"),
    ("platforms: {kubernetes: {}}\n", "no pipeline spec is provided"),
], ids=["schema-version", "empty-name", "no-root", "two-specs", "no-spec"])
def test_an_upload_is_parsed_as_kfps_v2_template_parser_does(server, client, tmp_path, spec, words):
    """template/v2_template.go NewV2SpecTemplate (kubeflow/pipelines 2.17.0); before, the double took
    any document with pipelineInfo and root."""
    package = tmp_path / "p.yaml"
    package.write_text(spec, encoding="utf-8")
    with pytest.raises(kfp_server_api.ApiException) as refused:
        client.upload_pipeline(str(package), pipeline_name="p")
    assert refused.value.status == 400 and words in refused.value.body


def test_run_parameters_are_checked_against_the_pipelines_inputs(server, client, tmp_path):
    """template/v2_template.go validatePipelineJobInputs: a recurring run (and a run) whose parameters
    the pipeline does not take, lacks, or of the wrong kind is refused; before, the double took any."""
    spec = ("schemaVersion: 2.1.0\npipelineInfo: {name: p}\nroot:\n  dag: {tasks: {}}\n  inputDefinitions:\n"
            "    parameters:\n      uri: {parameterType: STRING}\n      rows: {parameterType: NUMBER_INTEGER,"
            " defaultValue: 5}\n")
    package = tmp_path / "p.yaml"
    package.write_text(spec, encoding="utf-8")
    pipeline = client.upload_pipeline(str(package), pipeline_name="p")
    (version,) = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions
    experiment = client.create_experiment("e")

    def create(params):
        return client.create_recurring_run(experiment.experiment_id, "r", interval_second=60, params=params,
                                           pipeline_id=pipeline.pipeline_id, version_id=version.pipeline_version_id)

    for params, words in (({"rows": 3}, "parameter uri is not optional"),
                          ({"uri": "s3://b/x", "colour": "blue"}, "not required by pipeline: colour"),
                          ({"uri": 7}, "input parameter uri requires type string")):
        with pytest.raises(kfp_server_api.ApiException) as refused:
            create(params)
        assert refused.value.status == 400 and words in refused.value.body
    assert create({"uri": "s3://b/x"}).recurring_run_id
