"""Serving reloads on the event (issue 27), with real processes on loopback: an `mlflow server` whose
registry webhooks are on, `churnops serve` polling only every 600 s, and churnops' own CLI.

1. churnops' own `alias.moved` CloudEvent (CHURNOPS_EVENT_SINKS = the predictor's POST
   /churnops/v1/events) makes the predictor answer with the new version in seconds.
2. MLflow's webhook (`churnops models webhook`, signed with a secret the predictor checks) does
   the same for a move made through the server, and under the policy `enforce` the predictor's
   guard puts back an alias moved with the plain MLflow client and keeps serving churnops' version.
3. What the route accepts: CloudEvents structured and binary, MLflow's body with the right
   signature; a wrong signature is a 401, anything else a 400 or ignored.
One mlflow server (~30 s to start here), one training (~40 s), two predictor starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time

import mlflow
import pytest
from cryptography.fernet import Fernet
from support import serving
from support.serving import CHAMPION_URI, Tracking, serve_env, services, wait_until

from churnops import defaults, events, names
from churnops.serving import governance

pytestmark = [pytest.mark.serving]
NAME = "churn-classifier"
SECRET = "webhook-secret-for-the-test"
# How long an event may take to act: seconds on a quiet machine; a put-back through the server is a lease
# and a journal entry (~20 HTTP calls), which took over 30 s with the 2 cores shared by several test runs.
# Far below the predictor's 600 s poll either way.
EVENT_SECONDS = 120
ROW = {"gender": "Female", "SeniorCitizen": "0", "Partner": "Yes", "Dependents": "No", "tenure": "5",
       "PhoneService": "Yes", "MultipleLines": "No", "InternetService": "Fiber optic", "OnlineSecurity": "No",
       "OnlineBackup": "No", "DeviceProtection": "No", "TechSupport": "No", "StreamingTV": "No",
       "StreamingMovies": "No", "Contract": "Month-to-month", "PaperlessBilling": "Yes",
       "PaymentMethod": "Electronic check", "MonthlyCharges": "70.7", "TotalCharges": "353.5"}


@pytest.fixture(scope="module")
def tracking(tmp_path_factory) -> Tracking:
    """An mlflow server that delivers registry webhooks to loopback (off by default: https and public IPs only)."""
    started = serving.start_tracking(tmp_path_factory.mktemp("events-mlflow"), MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS="true",
                                     MLFLOW_WEBHOOK_ALLOWED_SCHEMES="http,https",
                                     MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY=Fernet.generate_key().decode(),
                                     # MLflow 3.17 caches each event's webhook list for this many seconds
                                     # (mlflow/webhooks/delivery.py, default 60): a move within a minute of the
                                     # first one, before the webhook existed, was not delivered.
                                     MLFLOW_WEBHOOK_CACHE_TTL="1")
    yield started
    started.service.stop()


@pytest.fixture(scope="module")
def versions(tracking, tmp_path_factory, synthetic_csv) -> mlflow.MlflowClient:
    """v1 trained and promoted by the gate; v2 the same logged model registered again (loads the same)."""
    from churnops.app import runs

    result = runs.train(str(synthetic_csv), tracking_uri=tracking.url, home=tmp_path_factory.mktemp("events-home"),
                        model_type="logistic_regression")
    assert result["promoted"], result
    client = mlflow.MlflowClient(tracking_uri=tracking.url, registry_uri=tracking.url)
    first = client.get_model_version(NAME, "1")
    model_id = first.source.rsplit("/", 1)[-1]  # the source is models:/<logged model id>
    client.create_model_version(NAME, first.source, first.run_id, model_id=model_id)
    return client


def churnops(tracking_url: str, home, *args: str, sinks: str = "") -> dict:
    env = {**serve_env(home), events.ENV_SINKS: sinks, "CHURNOPS_WEBHOOK_SECRET": SECRET}
    done = subprocess.run([sys.executable, "-m", "churnops", *args, "--tracking-uri", tracking_url, "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def answering(served, version: str) -> bool:
    status, body = served.post(f"/v1/models/{NAME}:predict", {"instances": [ROW]})
    return status == 200 and body["model_version"] == version


@pytest.fixture(scope="module")
def predictor(tracking, versions, tmp_path_factory):
    home = tmp_path_factory.mktemp("events-serve")
    port = services.free_port()
    env = {**serve_env(home), "CHURNOPS_WEBHOOK_SECRET": SECRET}
    service = services.Service("churnops-serve", serving.serve_argv(CHAMPION_URI, tracking.url, port,
                                                                     "--poll-seconds", "600"),
                               env, home / "serve.log", f"http://127.0.0.1:{port}/v2/health/ready")
    service.start().wait_ready(serving.SERVE_READY_SECONDS)
    yield serving.Served(f"http://127.0.0.1:{port}", service)
    service.stop()


def test_our_alias_moved_event_swaps_the_predictor_at_once(tracking, predictor, tmp_path):
    assert answering(predictor, "1")
    started = time.monotonic()
    churnops(tracking.url, tmp_path, "models", "promote", "--version", "2", "--reason", "event test",
             sinks=predictor.url + governance.EVENTS_PATH)
    wait_until(lambda: answering(predictor, "2"), EVENT_SECONDS, "v2 to answer after its alias-moved event")
    assert time.monotonic() - started < EVENT_SECONDS + 30  # the poll is every 600 s: the event did it


def test_mlflow_webhook_swaps_it_and_the_guard_puts_back_a_foreign_move(tracking, versions, predictor, tmp_path):
    hook = churnops(tracking.url, tmp_path, "models", "webhook", "--url", predictor.url + governance.EVENTS_PATH,
                    "--secret-env", "CHURNOPS_WEBHOOK_SECRET")
    assert hook["events"] == ["model_version_alias.created", "model_version_alias.deleted"]
    churnops(tracking.url, tmp_path, "models", "rollback", "--reason", "webhook test")  # no sink: only MLflow tells
    wait_until(lambda: answering(predictor, "1"), EVENT_SECONDS, "v1 to answer after MLflow's webhook")
    versions.set_registered_model_tag(NAME, names.TAG_POLICY, json.dumps(
        {"promotion": "approval", "guard": "enforce", "approval_hours": 72}))
    versions.set_registered_model_alias(NAME, names.ALIAS_CHAMPION, "2")  # outside churnops: no audit entry
    def put_back() -> bool:  # the alias moves first, the audit entries after it: the whole journal entry done
        registered = versions.get_registered_model(NAME)
        return str(registered.aliases.get(names.ALIAS_CHAMPION)) == "1" and names.TAG_INTENT not in registered.tags

    wait_until(put_back, EVENT_SECONDS, "the predictor's guard to put the champion back")
    audit = json.loads(versions.get_model_version(NAME, "2").tags[names.TAG_AUDIT_HISTORY])
    assert audit[-1]["action"] == names.AUDIT_GUARD_REFUSED and audit[-1]["by"].startswith("churnops serve")
    assert all(answering(predictor, "1") for _ in range(5))  # it never followed the refused move
    _, metrics = predictor.get("/metrics")
    assert f'churnops_guard_findings_total{{model_name="{NAME}"}} 1.0' in metrics


def _mlflow_headers(body: bytes, secret: str) -> dict[str, str]:
    delivery, stamp = "d-1", str(int(time.time()))
    signature = base64.b64encode(hmac.new(secret.encode(), f"{delivery}.{stamp}.{body.decode()}".encode(),
                                          hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": f"v1,{signature}"}


MLFLOW_BODY = json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "t",
                          "data": {"name": NAME, "alias": "champion", "version": "2"}}).encode()
CLOUDEVENT = json.dumps({"specversion": "1.0", "id": "1", "source": "urn:churnops:cli",
                         "type": defaults.EVENT_TYPE_PREFIX + events.ALIAS_MOVED, "datacontenttype": "application/json",
                         "data": {"model_name": NAME}}).encode()


@pytest.mark.parametrize("headers, body, expected", [
    ({"Content-Type": "application/cloudevents+json"}, CLOUDEVENT, (202, "churnops")),
    ({"ce-specversion": "1.0", "ce-id": "2", "ce-source": "urn:churnops:cli", "Content-Type": "application/json",
      "ce-type": defaults.EVENT_TYPE_PREFIX + events.ALIAS_MOVED}, json.dumps({"model_name": NAME}).encode(),
     (202, "churnops")),
    ({"Content-Type": "application/cloudevents+json"}, CLOUDEVENT.replace(NAME.encode(), b"other-model"),
     (200, "ignored: not an alias move of this model")),
    (_mlflow_headers(MLFLOW_BODY, SECRET), MLFLOW_BODY, (202, "mlflow")),
    (_mlflow_headers(MLFLOW_BODY, "wrong"), MLFLOW_BODY, (401, "MLflow webhook signature missing or wrong "
                                                               "(CHURNOPS_WEBHOOK_SECRET)")),
    ({"Content-Type": "application/json"}, b'{"hello": 1}', None),
])
def test_what_the_event_route_accepts(headers, body, expected):
    status, what = governance.hint_source(headers, body, NAME, SECRET)
    if expected is None:
        assert status == 400 and what.startswith("not a CloudEvent")
    else:
        assert (status, what) == expected
