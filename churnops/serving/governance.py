"""What the predictor adds for governed promotion (issue 27): the guard on every resolve, the alias-moved
event route, and the registry's state as Prometheus gauges for the alerts (monitoring/).

- `vet` (the follower's hook): runs the guard (churnops.registry.guard) for the followed alias;
  under the policy `enforce` it serves the version churnops put there, never the one an alias was
  moved to outside churnops. A guard that cannot run (registry down) never stops serving.
- `receive` (POST EVENTS_PATH): a CloudEvent `io.churnops.alias.moved` (structured or binary) or
  MLflow's `model_version_alias.*` webhook for this model wakes the follower to resolve now. The
  body is only a hint: the follower asks the registry, so a forged event can at most cause one
  more registry read (hints coalesce). With CHURNOPS_WEBHOOK_SECRET set, an MLflow webhook must
  carry MLflow's HMAC signature made with it.
- gauges read from the registered model on every poll: the newest gate decision's time (alert:
  no training in N days), the newest drift verdict (0 ok, 1 warn, 2 drifted), and a counter of
  guard findings.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime

import mlflow
from prometheus_client import Counter, Gauge
from starlette.requests import Request  # at module level: FastAPI reads the handler's annotations
from starlette.responses import JSONResponse

from churnops import defaults, events, names
from churnops.registry import guard, journal, webhooks
from churnops.registry.loading import MODELS_URI, ResolvedModel
from churnops.serving.exposure import EVENTS_PATH

log = logging.getLogger("churnops.serving")

ENV_WEBHOOK_SECRET = "CHURNOPS_WEBHOOK_SECRET"
VERDICT_CODES = {"ok": 0.0, "warn": 1.0, "drifted": 2.0}

GUARD_FINDINGS = Counter("churnops_guard_findings_total",
                         "Guarded aliases found moved outside churnops (each new finding once)", ["model_name"])
LAST_DECISION = Gauge("churnops_last_gate_decision_timestamp_seconds",
                      "When the validation gate last decided a version of the model (a training that registered one)",
                      ["model_name"])
DRIFT_VERDICT = Gauge("churnops_drift_verdict", "The newest drift check's verdict: 0 ok, 1 warn, 2 drifted",
                      ["model_name"])
HINTS = Counter("churnops_alias_events_total", "Alias-moved events received (each one a resolve now)",
                ["model_name", "source"])


def register_metrics(model_name: str) -> None:
    """Every series at start (0, NaN for the unknown), so an alert can be written before the first event."""
    GUARD_FINDINGS.labels(model_name)
    for source in ("churnops", "mlflow"):
        HINTS.labels(model_name, source)
    LAST_DECISION.labels(model_name).set(float("nan"))
    DRIFT_VERDICT.labels(model_name).set(float("nan"))


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def record_registry_state(registered) -> None:
    tags = dict(registered.tags)
    last = journal.json_tag(tags, names.TAG_LAST_DECISION) or {}
    if last.get("at"):
        LAST_DECISION.labels(registered.name).set(_seconds(last["at"]))
    drift = journal.json_tag(tags, names.TAG_LAST_DRIFT) or {}
    if drift.get("verdict") in VERDICT_CODES:
        DRIFT_VERDICT.labels(registered.name).set(VERDICT_CODES[drift["verdict"]])


class Vet:
    """The follower's `vet` hook; remembers the last finding so the counter counts each one once."""

    def __init__(self) -> None:
        self.actor = f"churnops serve ({socket.gethostname()}:{os.getpid()})"
        self._last: list = []

    def __call__(self, client: mlflow.MlflowClient, resolved: ResolvedModel) -> ResolvedModel:
        match = MODELS_URI.match(resolved.requested_uri)
        alias = match.group("alias") if match else None
        try:
            if alias is None:
                return resolved
            version, found = guard.served_version(client, resolved.model_name, alias, resolved.model_version,
                                                  actor=self.actor, origin="serving")
            if found and found != self._last:
                GUARD_FINDINGS.labels(resolved.model_name).inc(len(found))
            self._last = found
            record_registry_state(client.get_registered_model(resolved.model_name))
        except Exception as exc:  # noqa: BLE001 - the guard never stops serving what the alias says
            log.warning("guard check failed (%s); following %s as resolved", str(exc).splitlines()[0][:200],
                        resolved.model_uri)
            return resolved
        if version == resolved.model_version:
            return resolved
        log.warning("not following %s to v%s: moved outside churnops (policy enforce); serving v%s",
                    resolved.requested_uri, resolved.model_version, version)
        found_version = client.get_model_version(resolved.model_name, version)
        return ResolvedModel(resolved.requested_uri, f"models:/{resolved.model_name}/{version}", resolved.model_name,
                             version, found_version.run_id)


def hint_source(headers: dict[str, str], body: bytes, model_name: str, secret: str) -> tuple[int, str]:
    """(HTTP status, what it was) for a POST to EVENTS_PATH; 202 + source when the follower should resolve now."""
    lowered = {key.lower(): value for key, value in headers.items()}
    if webhooks.DELIVERY_HEADER.lower() in lowered:  # MLflow's webhook
        if secret and not webhooks.signature_ok(secret, headers, body):
            return 401, "MLflow webhook signature missing or wrong (CHURNOPS_WEBHOOK_SECRET)"
        try:
            found = webhooks.alias_event(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return 400, "MLflow webhook body is not JSON"
        return (202, "mlflow") if found and found[0] == model_name else (200, "ignored: not an alias move of this model")
    try:
        from cloudevents.http import from_http

        event = from_http(headers, body)
    except Exception as exc:  # noqa: BLE001 - whatever the SDK refuses is a client error
        return 400, f"not a CloudEvent: {type(exc).__name__}"
    data = event.get_data() if isinstance(event.get_data(), dict) else {}
    if event["type"] == defaults.EVENT_TYPE_PREFIX + events.ALIAS_MOVED and data.get("model_name") == model_name:
        return 202, "churnops"
    return 200, "ignored: not an alias move of this model"


def mount(app, follower, model_name: str) -> None:
    """Add POST EVENTS_PATH to the predictor's FastAPI app (kserve.model_server.app)."""
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        status, what = hint_source(dict(request.headers), body, model_name, os.environ.get(ENV_WEBHOOK_SECRET, ""))
        if status == 202:
            HINTS.labels(model_name, what).inc()
            log.info("alias-moved hint from %s: resolving %s now", what, model_name)  # rare: one per move
            follower.hint()
        return JSONResponse({"status": what}, status_code=status)

    app.add_api_route(EVENTS_PATH, receive, methods=["POST"])
