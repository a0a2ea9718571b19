"""`churnops serve` as a real process on 127.0.0.1 against a real `mlflow server` (tests/churnops/serving/conftest.py).

Every request is real HTTP on loopback with the standard library client; request loops are bounded
in count and in time. Faults are injected on purpose: a corrupted model file, a killed MLflow server.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from support.serving import CHAMPION_URI, serve_env, start_server, wait_until

from churnops import names

pytestmark = [pytest.mark.serving]

OUTPUT = ("churn_probability", "churn_predicted", "model_name", "model_version")


def raw_rows(csv_path: Path, count: int, start: int = 0) -> list[dict]:
    """Rows as a user has them: the CSV's text, the target column left out."""
    with open(csv_path, newline="") as stream:
        rows = list(csv.DictReader(stream))[start:start + count]
    for row in rows:
        row.pop("Churn", None)
    return rows


def v2_body(rows: list[dict]) -> dict:
    columns = list(rows[0])
    return {"inputs": [{"name": column, "shape": [len(rows)], "datatype": "BYTES",
                        "data": [row[column] for row in rows]} for column in columns]}


def v2_predictions(body: dict) -> list[dict]:
    outputs = {output["name"]: output["data"] for output in body["outputs"]}
    return [dict(zip(OUTPUT, values, strict=True)) for values in zip(*(outputs[column] for column in OUTPUT), strict=True)]


def batch_predictions(rows: list[dict], model_uri: str, tracking_uri: str, folder: Path, *extra: str) -> pd.DataFrame:
    """`churnops predict` on the same rows (a real CLI process, the inference pipeline run locally)."""
    source = folder / "rows.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    output = folder / "predictions.csv"
    completed = subprocess.run(
        [sys.executable, "-m", "churnops", "predict", "--model-uri", model_uri, "--tracking-uri", tracking_uri,
         "--input", str(source), "--output", str(output), *extra],
        env=serve_env(folder), capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return pd.read_csv(output, dtype={"model_version": str})


@pytest.fixture(scope="module")
def server(tracking, champion, tmp_path_factory):
    served = start_server(CHAMPION_URI, tracking.url, tmp_path_factory.mktemp("serve"), "--poll-seconds", "0.5")
    yield served
    served.service.stop()


def test_the_server_binds_loopback_and_lists_the_model(server, champion):
    status, body = server.get("/v2/health/ready")
    assert status == 200, body
    status, body = server.get("/v1/models")
    assert status == 200 and champion["model_name"] in body, body
    log = server.service.log_path.read_text()
    assert f"Uvicorn running on {server.url}" in log  # bound to the host we asked for, not kserve's 0.0.0.0
    assert f"listening on {server.url}" in log
    assert f"version {champion['model_version']} (models:/" in log and "scored by onnx" in log  # its compiled form


def test_counters_exist_at_zero_before_any_event(server, champion):
    """An alert on load failures can be written before the first one (issue 24): every counter has a sample."""
    _, metrics = server.get("/metrics")
    for counter in ("churnops_model_load_failures_total", "churnops_model_swaps_total"):
        assert re.search(r'%s\{model_name="%s"\} 0\.0' % (counter, champion["model_name"]), metrics), metrics


def test_requests_leave_no_log_lines_and_a_client_error_is_one_warning(server, champion, synthetic_csv):
    """Issue 24: ~660 requests wrote 3,744 lines (access, two kserve.trace and a FastAPI deprecation warning per
    request, a 30-line traceback per 400). Now: nothing per good request, one WARNING line per client error."""
    import urllib.error
    import urllib.request

    log = server.service.log_path
    before = log.read_text().splitlines()
    rows = raw_rows(synthetic_csv, 2)
    path = f"/v1/models/{champion['model_name']}:predict"
    for _ in range(20):
        assert server.post(path, {"instances": rows})[0] == 200
    status, answer = server.post(path, {"instances": [{"tenure": "x"}]})
    assert status == 400 and answer["error"].endswith("Send them in every row of the request (null for a missing value).")
    assert server.post("/v1/models/no-such-model:predict", {"instances": rows})[0] == 404
    # v2 without a Content-Type: kserve reads binary tensors and asked for inference-header-content-length
    request = urllib.request.Request(f"{server.url}/v2/models/{champion['model_name']}/infer", method="POST",
                                     data=json.dumps(v2_body(rows)).encode())
    request.remove_header("Content-type")
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("a v2 body without Content-Type was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 400 and 'with the header "Content-Type: application/json"' in json.loads(exc.read())["error"]
    wait_until(lambda: len(log.read_text().splitlines()) >= len(before) + 3, 10, "the client errors to be logged")
    time.sleep(0.5)  # anything else the requests would log
    new = log.read_text().splitlines()[len(before):]
    assert len(new) == 3, "\n".join(new)
    assert all(" churnops.serving WARNING " in line for line in new), "\n".join(new)
    assert " 400 POST /v1/models/" in new[0] and "missing column(s)" in new[0]
    assert " 404 POST /v1/models/no-such-model:predict: " in new[1] and "Content-Type: application/json" in new[2]


def test_v1_and_v2_answers_equal_churnops_predict_on_telco_rows(server, champion, tracking, telco_csv, tmp_path):
    rows = raw_rows(telco_csv, 25, start=100)
    status, v1 = server.post(f"/v1/models/{champion['model_name']}:predict", {"instances": rows})
    assert status == 200, v1
    status, v2 = server.post(f"/v2/models/{champion['model_name']}/infer", v2_body(rows))
    assert status == 200, v2
    batch = batch_predictions(rows, champion["model_uri"], tracking.url, tmp_path)
    for predictions in (v1["predictions"], v2_predictions(v2)):
        assert len(predictions) == len(rows)
        online = pd.DataFrame(predictions)
        assert online["churn_probability"].tolist() == batch["churn_probability"].tolist()  # identical, not close
        assert online["churn_predicted"].astype(int).tolist() == batch["churn_predicted"].tolist()
        assert set(online["model_name"]) == {champion["model_name"]}
        assert set(online["model_version"].astype(str)) == {champion["model_version"]}


def test_blank_numbers_are_missing_not_errors(server, champion, synthetic_csv):
    row = raw_rows(synthetic_csv, 1)[0] | {"TotalCharges": " "}
    status, body = server.post(f"/v1/models/{champion['model_name']}:predict", {"instances": [row]})
    assert status == 200, body
    assert 0.0 <= body["predictions"][0]["churn_probability"] <= 1.0


@pytest.mark.parametrize(("change", "column", "message"), [
    ({"MonthlyCharges": "abc"}, "MonthlyCharges", "MonthlyCharges='abc' is not a number"),
    ({"tenure": "ten"}, "tenure", "tenure='ten' is not a number"),
    ({"Contract": None, "__drop__": "Contract"}, "Contract", "missing column(s) ['Contract']"),
])
def test_a_bad_row_is_a_400_naming_the_column(server, champion, synthetic_csv, change, column, message):
    rows = raw_rows(synthetic_csv, 3)
    drop = change.pop("__drop__", None)
    rows[1] = {key: value for key, value in (rows[1] | change).items() if key != drop}
    if drop:
        rows = [{key: value for key, value in row.items() if key != drop} for row in rows]
    for path, body in ((f"/v1/models/{champion['model_name']}:predict", {"instances": rows}),
                       (f"/v2/models/{champion['model_name']}/infer", v2_body(rows))):
        status, answer = server.post(path, body)
        assert status == 400, (path, status, answer)
        assert message in answer["error"] and column in answer["error"], answer


def test_unseen_categories_are_scored_like_batch_and_named_in_the_answer(server, champion, tracking, synthetic_csv,
                                                                         tmp_path):
    """Issue 25: unseen or malformed categories were scored silently, online and in batch."""
    rows = raw_rows(synthetic_csv, 6, start=40)
    rows[1]["Contract"], rows[2]["Contract"], rows[4]["Contract"] = "month-to-month", 5, "\U0001f525"
    rows[3]["PaymentMethod"] = ["Electronic check"]
    name = champion["model_name"]
    status, v1 = server.post(f"/v1/models/{name}:predict", {"instances": rows})
    assert status == 200, v1
    assert v1["unseen_categories"] == {"Contract": 3, "PaymentMethod": 1}
    status, v2 = server.post(f"/v2/models/{name}/infer", v2_body([{k: str(v) for k, v in row.items()} for row in rows]))
    assert status == 200, v2
    assert json.loads(v2["parameters"]["unseen_categories"]) == {"Contract": 3, "PaymentMethod": 1}
    metrics = server.get("/metrics")[1]
    assert re.search(r'churnops_unseen_category_values_total\{column="Contract",model_name="%s"\} [3-9]' % name, metrics)
    batch = batch_predictions(rows, champion["model_uri"], tracking.url, tmp_path, "--max-unseen-fraction", "1")
    assert [p["churn_probability"] for p in v1["predictions"]] == batch["churn_probability"].tolist()
    assert [p["churn_probability"] for p in v2_predictions(v2)] == batch["churn_probability"].tolist()


@pytest.mark.parametrize("body", [{"rows": []}, {"instances": "x"}, {"instances": []}, {"instances": [1, 2]}])
def test_a_malformed_body_is_a_400_that_says_what_to_send(server, champion, body):
    status, answer = server.post(f"/v1/models/{champion['model_name']}:predict", body)
    assert status == 400, answer
    assert "instances" in answer["error"] or "row" in answer["error"], answer


def _second_version(champion: dict) -> str:
    client = mlflow.MlflowClient()
    version = mlflow.register_model(champion["logged_model_uri"], champion["model_name"])
    return str(client.get_model_version(champion["model_name"], version.version).version)


def test_a_champion_switch_under_load_fails_no_request(server, champion, tracking, synthetic_csv):
    from churnops.registry import aliases

    mlflow.set_tracking_uri(tracking.url)
    mlflow.set_registry_uri(tracking.url)
    client = mlflow.MlflowClient(tracking_uri=tracking.url, registry_uri=tracking.url)
    new_version = _second_version(champion)
    rows = raw_rows(synthetic_csv, 5)
    path = f"/v1/models/{champion['model_name']}:predict"
    failed, versions = 0, []
    deadline = time.monotonic() + 120
    promoted_at = None
    for attempt in range(4000):  # bounded in count and in time
        if time.monotonic() > deadline:
            break
        if attempt == 20:
            aliases.promote(client, champion["model_name"], new_version, actor="test", reason="switch under load")
            promoted_at = len(versions)
        try:
            status, body = server.post(path, {"instances": rows}, timeout=10)
        except OSError:
            status, body = -1, {}
        if status != 200:
            failed += 1
            continue
        answered = {prediction["model_version"] for prediction in body["predictions"]}
        assert len(answered) == 1, body  # one request, one version
        versions.append(answered.pop())
        if versions[-1] == new_version and versions.count(new_version) >= 30:
            break
    assert failed == 0
    assert promoted_at is not None and versions[:promoted_at] == [champion["model_version"]] * promoted_at
    first_new = versions.index(new_version)  # the swap happened within the loop
    assert set(versions[first_new:]) == {new_version}, "once swapped, never back"
    status, metrics = server.get("/metrics")
    assert re.search(r'churnops_model_swaps_total\{model_name="%s"\} 1\.0' % champion["model_name"], metrics)


def test_a_version_that_fails_to_load_keeps_the_old_one_serving(server, champion, tracking, synthetic_csv):
    from churnops.registry import aliases

    mlflow.set_tracking_uri(tracking.url)
    mlflow.set_registry_uri(tracking.url)
    client = mlflow.MlflowClient(tracking_uri=tracking.url, registry_uri=tracking.url)
    serving_now = client.get_model_version_by_alias(champion["model_name"], names.ALIAS_CHAMPION).version
    # A copy of the model in its own run, then its pickle overwritten: the fault is injected on purpose.
    local = Path(mlflow.artifacts.download_artifacts(champion["logged_model_uri"]))
    with mlflow.start_run(experiment_id=client.get_run(champion["run_id"]).info.experiment_id) as run:
        mlflow.log_artifacts(str(local), "model")
    pickles = [path for path in (tracking.artifacts).rglob("*.pkl") if run.info.run_id in str(path)]
    assert pickles, list(tracking.artifacts.rglob("*"))[:20]
    for pickle in pickles:
        pickle.write_bytes(b"not a pickle")
    broken = mlflow.register_model(f"runs:/{run.info.run_id}/model", champion["model_name"]).version
    aliases.promote(client, champion["model_name"], str(broken), actor="test", reason="broken version")
    try:
        metric = re.compile(r'churnops_model_load_failures_total\{model_name="%s"\} 1\.0' % champion["model_name"])
        wait_until(lambda: metric.search(server.get("/metrics")[1]), 90, "the load failure to be reported")
        status, body = server.post(f"/v1/models/{champion['model_name']}:predict",
                                   {"instances": raw_rows(synthetic_csv, 2)})
        assert status == 200, body
        assert {prediction["model_version"] for prediction in body["predictions"]} == {str(serving_now)}
        assert server.get("/v2/health/ready")[0] == 200
        assert f"models:/{champion['model_name']}/{broken} failed to load" in server.service.log_path.read_text()
    finally:  # the module's later servers start from the champion: a loadable one again
        aliases.promote(client, champion["model_name"], str(serving_now), actor="test", reason="put back")


def test_load_unload_and_the_docs_are_not_served_by_default(server, champion, synthetic_csv):
    """Issue 25: an anonymous unload stopped the predictor for good while readiness stayed 200."""
    name = champion["model_name"]
    for path in (f"/v2/repository/models/{name}/unload", f"/v2/repository/models/{name}/load",
                 f"/v1/models/{name}:explain"):
        status, answer = server.post(path, {})
        assert status == 404, (path, status, answer)
    for path in ("/docs", "/openapi.json"):
        assert server.get(path)[0] == 404, path
    status, body = server.post(f"/v1/models/{name}:predict", {"instances": raw_rows(synthetic_csv, 2)})
    assert status == 200, body
    assert server.get("/v2/health/ready")[0] == 200


@pytest.fixture(scope="module")
def limited(tracking, champion, tmp_path_factory):
    """A replica with small limits and kserve's model repository turned on (its last test unloads the model)."""
    served = start_server(CHAMPION_URI, tracking.url, tmp_path_factory.mktemp("serve-limited"),
                          "--max-rows", "50", "--max-body-bytes", str(LIMITED_BODY_BYTES), "--enable-model-repository")
    yield served
    served.service.stop()


LIMITED_BODY_BYTES = 300_000


def test_more_rows_than_the_limit_is_a_413_naming_it(limited, champion, synthetic_csv):
    name = champion["model_name"]
    rows = raw_rows(synthetic_csv, 51)
    for path, body in ((f"/v1/models/{name}:predict", {"instances": rows}), (f"/v2/models/{name}/infer", v2_body(rows))):
        status, answer = limited.post(path, body)
        assert status == 413, (path, status, answer)
        assert "51 rows" in answer["error"] and "--max-rows" in answer["error"], answer
    status, answer = limited.post(f"/v1/models/{name}:predict", {"instances": rows[:50]})
    assert status == 200 and len(answer["predictions"]) == 50, answer


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_a_413_naming_the_limit(limited, champion, synthetic_csv, chunked):
    import http.client

    body = json.dumps({"instances": raw_rows(synthetic_csv, 1) * 2500}).encode()  # ~1.2 MB, 4x the limit
    assert len(body) > 4 * LIMITED_BODY_BYTES
    host, port = limited.url.removeprefix("http://").split(":")
    # As Python's http.client and requests do: the whole body is sent before the answer is read. The
    # server reads and drops the rest before it closes (churnops.serving.exposure.Body.linger): a close
    # with bytes unread is a reset that overtook the 413 on a loaded machine ("Broken pipe").
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", f"/v1/models/{champion['model_name']}:predict",
                           body=iter([body]) if chunked else body,
                           headers={"Content-Type": "application/json"}, encode_chunked=chunked)
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 413, answer
    assert f"above {LIMITED_BODY_BYTES} bytes" in answer["error"] and "--max-body-bytes" in answer["error"], answer
    assert limited.get("/v2/health/ready")[0] == 200


def test_readiness_is_false_once_the_model_cannot_answer(limited, champion, synthetic_csv):
    """With the repository routes turned on, an unload takes the replica out of rotation (ready 503)."""
    name = champion["model_name"]
    assert limited.get("/v2/health/ready")[0] == 200
    status, answer = limited.post(f"/v2/repository/models/{name}/unload", {})
    assert status == 200, answer
    assert limited.post(f"/v1/models/{name}:predict", {"instances": raw_rows(synthetic_csv, 1)})[0] != 200
    assert limited.get("/v2/health/ready")[0] == 503


def test_an_unknown_model_fails_at_start_naming_it(start_serve, tracking, champion):
    served = start_serve("models:/no-such-model@champion", tracking.url, "--start-wait-seconds", "5", ready=False)
    code = served.service.process.wait(timeout=120)
    log = served.service.log_path.read_text()
    assert code == 1 and "Cannot resolve models:/no-such-model@champion" in log, log


def test_mlflow_down_mid_run_keeps_serving_the_loaded_version(server, champion, tracking, synthetic_csv):
    """Last in the module: it kills the tracking server."""
    _, before = server.post(f"/v1/models/{champion['model_name']}:predict", {"instances": raw_rows(synthetic_csv, 3)})
    tracking.service.stop(grace=0)  # SIGKILL: a crashed MLflow pod
    wait_until(lambda: "cannot resolve" in server.service.log_path.read_text(), 30, "a failed poll to be logged")
    for _ in range(20):
        status, body = server.post(f"/v1/models/{champion['model_name']}:predict", {"instances": raw_rows(synthetic_csv, 3)})
        assert status == 200, body
        assert body["predictions"] == before["predictions"]
    assert server.get("/v2/health/ready")[0] == 200


def test_mlflow_down_at_start_fails_within_the_wait_with_a_clear_error(start_serve, tmp_path):
    import integration_services as services

    nobody = f"http://127.0.0.1:{services.free_port()}"  # nothing listens there
    served = start_serve(CHAMPION_URI, nobody, "--start-wait-seconds", "3", ready=False)
    started = time.monotonic()
    code = served.service.process.wait(timeout=120)
    log = served.service.log_path.read_text()
    assert code == 1, log
    assert f"MLflow tracking server {nobody} did not answer /health" in log
    assert "Traceback" not in log
    assert time.monotonic() - started < 90  # 3 s of waiting plus importing mlflow and kserve
