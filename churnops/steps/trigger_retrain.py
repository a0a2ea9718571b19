"""Step `trigger_retrain`: on a drifted batch, start a retraining run through the KFP API, storm-guarded.

The retraining run is what the named recurring run (the scheduled retrain the sync keeps in
step with git) runs: its pipeline version, parameters, experiment and service account. It is
created as a one-off run, its description naming the trigger and the drift report. At most
one is started per window (churnops.core.storm_guard: the claim and why it is race-free). The
decision, trigger or not and why, is returned and tagged on the drift check's MLflow run.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Callable

import kfp_server_api
import mlflow
import urllib3

from churnops import defaults, events
from churnops.core import storm_guard
from churnops.errors import ChurnopsError
from churnops.registry import journal, profiles, tracking

DESCRIPTION_LIMIT = 255  # KFP on MySQL: descriptions are VARCHAR(255)
PAGE_SIZE = 100


def run(
    drift: dict[str, Any],
    *,
    enabled: bool,
    kfp_host: str,
    namespace: str,
    recurring_run: str,
    window_seconds: int,
    client: Any = None,
    now: Callable[[], float] = time.time,
    grace_seconds: int = defaults.RETRAIN_CLAIM_GRACE_SECONDS,
) -> dict[str, Any]:
    """Decide, and trigger when the rules allow. `drift` is what check_drift returned."""
    if grace_seconds <= defaults.RETRAIN_RUN_CREATE_TIMEOUT_SECONDS:
        raise ChurnopsError(f"The claim grace ({grace_seconds} s) must be longer than the run create's timeout "
                            f"({defaults.RETRAIN_RUN_CREATE_TIMEOUT_SECONDS} s), or a live owner and a taker could "
                            "both start a retrain: raise the grace.")
    decision = _decide(drift, enabled, kfp_host, namespace, recurring_run, window_seconds, client, now, grace_seconds)
    if drift.get("drift_run_id") and drift.get("mlflow_tracking_uri"):
        tracking.connect(drift["mlflow_tracking_uri"])
        profiles.record_retrain_decision(mlflow.MlflowClient(tracking_uri=drift["mlflow_tracking_uri"]),
                                         drift["drift_run_id"], decision)
    if decision.get("action") == storm_guard.TRIGGER:
        model = drift.get("model_name", "")
        events.emit(events.RETRAIN_TRIGGERED, f"{model}/v{drift.get('model_version', '')}", {
            "model_name": model, "version": drift.get("model_version"), "recurring_run": recurring_run,
            "run_id": decision.get("run_id"), "reason": decision.get("reason"),
            "summary": f"retraining started ({decision.get('reason')})"}, "drift")
        events.flush()
    return decision


def _decide(drift, enabled, kfp_host, namespace, recurring_run, window_seconds, client, now,
            grace_seconds) -> dict[str, Any]:
    verdict = drift["verdict"]
    first = storm_guard.decide(verdict, enabled, [], now(), window_seconds)
    if first.action == storm_guard.SKIP:  # not drifted, or off: KFP is never contacted
        return {**first.to_dict(), "run_id": None, "claim": None}
    if not recurring_run:
        raise ChurnopsError("retrain_on_drift is on but retrain_recurring_run is empty: name the recurring run "
                            "whose pipeline version and parameters a triggered retrain should use.")
    client = client or ApiClient(kfp_host)
    try:
        target = _recurring_run(client, recurring_run, namespace)
        claims = storm_guard.parse_claims(recurring_run,
                                          _experiments(client, storm_guard.claim_prefix(recurring_run), namespace))
        latest, moment = (claims[-1] if claims else None), now()
        # Only a claim past the grace and still inside the window can be abandoned; only then are runs listed.
        abandoned = (storm_guard.is_stale(latest, moment, window_seconds, grace_seconds)
                     and not _run_exists(client, target, storm_guard.run_name(recurring_run, latest.sequence), namespace))
    except kfp_server_api.ApiException as exc:
        raise ChurnopsError(f"Could not read the retrain target and the storm guard's claims from KFP "
                            f"({_describe(exc)}). On multi-user KFP the pipeline runner needs the Role of "
                            "k8s/components/kfp-multi-user and kfp_namespace set to the profile namespace.") from None
    decision = storm_guard.decide(verdict, enabled, claims, moment, window_seconds, abandoned, grace_seconds)
    if decision.action == storm_guard.SKIP:
        return {**decision.to_dict(), "run_id": None, "claim": claims[-1].name if claims else None}
    name = storm_guard.claim_name(recurring_run, decision.sequence)
    display = storm_guard.run_name(recurring_run, decision.sequence)
    try:
        claim = client._experiment_api.experiment_service_create_experiment(  # noqa: SLF001
            # kfp.Client.create_experiment returns an existing experiment of that name, which
            # would let both racers through: the API's create answers 409 to the second.
            experiment=kfp_server_api.V2beta1Experiment(
                display_name=name, namespace=namespace or None,
                description=describe_claim(recurring_run, display, moment, latest if abandoned else None)))
    except kfp_server_api.ApiException as exc:
        if exc.status == 409:
            return {"action": storm_guard.SKIP, "reason": f"storm guard: another scoring run took {name} first",
                    "sequence": decision.sequence, "run_id": None, "claim": name}
        raise ChurnopsError(f"Could not claim the retrain trigger {name} in KFP ({_describe(exc)}).") from None
    journal.boundary("trigger:after-claim")  # a no-op unless a test kills the process here
    try:
        created = client._run_api.run_service_create_run(run=kfp_server_api.V2beta1Run(  # noqa: SLF001
            display_name=display, description=describe_trigger(drift, name),
            experiment_id=target.experiment_id, pipeline_version_reference=target.pipeline_version_reference,
            runtime_config=target.runtime_config, service_account=target.service_account or None),
            # Bounded so a taker (after the grace, which is longer) never races a live owner.
            _request_timeout=defaults.RETRAIN_RUN_CREATE_TIMEOUT_SECONDS)
    except kfp_server_api.ApiException as exc:
        try:  # give the window back: nothing was triggered
            client._experiment_api.experiment_service_delete_experiment(experiment_id=claim.experiment_id)  # noqa: SLF001
        except kfp_server_api.ApiException:
            pass
        raise ChurnopsError(f"Drift triggered a retrain, but KFP refused the run ({_describe(exc)}).") from None
    except urllib3.exceptions.HTTPError as exc:  # a timeout or a lost connection: the run may exist
        raise ChurnopsError(f"Drift triggered a retrain, but the run create did not answer ({exc}); claim {name} "
                            f"stays, and is taken over after {defaults.RETRAIN_CLAIM_GRACE_SECONDS} s if no run "
                            f"{display} exists.") from None
    return {"action": storm_guard.TRIGGER, "reason": f"{decision.reason}: started {display}",
            "sequence": decision.sequence, "run_id": created.run_id, "claim": name}


class ApiClient:
    """The KFP API calls this step makes, on kfp_server_api (what kfp.Client wraps).

    Not kfp.Client: in a step process (_KFP_RUNTIME=true) importing kfp.client is circular
    (kfp.dsl.pipeline_context is half-initialised; measured with kfp 2.17.3). The bearer token
    is the one kfp.Client would use in a pod: $KF_PIPELINES_SA_TOKEN_PATH, else KFP's projected
    token path, when present (multi-user KFP); none otherwise.
    """

    TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"

    def __init__(self, host: str) -> None:
        import os

        configuration = kfp_server_api.Configuration(host=host.rstrip("/"))
        api = kfp_server_api.ApiClient(configuration)
        token_path = os.environ.get("KF_PIPELINES_SA_TOKEN_PATH", self.TOKEN_PATH)
        if os.path.exists(token_path):
            with open(token_path, encoding="utf-8") as handle:
                api.set_default_header("Authorization", f"Bearer {handle.read().strip()}")
        self._experiment_api = kfp_server_api.ExperimentServiceApi(api)
        self._run_api = kfp_server_api.RunServiceApi(api)
        self._recurring_run_api = kfp_server_api.RecurringRunServiceApi(api)

    def list_recurring_runs(self, **query):
        return self._recurring_run_api.recurring_run_service_list_recurring_runs(**_present(query))

    def list_experiments(self, **query):
        return self._experiment_api.experiment_service_list_experiments(**_present(query))

    def list_runs(self, **query):
        return self._run_api.run_service_list_runs(**_present(query))


def _present(query: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in query.items() if value not in (None, "")}


def describe_trigger(drift: dict[str, Any], claim: str) -> str:
    """The triggered run's description: trigger, report URI, model, features (cut to KFP's 255)."""
    text = (f"trigger=drift; report={drift.get('report_uri', '')}; claim={claim}; "
            f"model={drift.get('model_name', '')} v{drift.get('model_version', '')}; "
            f"drifted={','.join(drift.get('drifted_features', []))}")
    return text[:DESCRIPTION_LIMIT]


def describe_claim(target: str, run: str, claimed_epoch: float, replaces: storm_guard.Claim | None) -> str:
    """A claim's description: when it was claimed and the run it starts (found by name, since KFP
    experiments cannot be updated after create: api/v2beta1/experiment.proto has no Update)."""
    claimed = datetime.fromtimestamp(claimed_epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"churnops storm-guard claim: drift-triggered retrain of {target}; claimed_at={claimed}; run={run}"
    if replaces is not None:
        text += f"; replaces={replaces.name} (abandoned: no run)"
    return text[:DESCRIPTION_LIMIT]


def _run_exists(client, target, display: str, namespace: str) -> bool:
    """Whether the run a claim names exists, in the target's experiment (where the owner creates it)."""
    found = client.list_runs(
        page_size=1, namespace=namespace or None, experiment_id=target.experiment_id,
        filter=json.dumps({"predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": display}]}))
    return bool(found.runs)


def _recurring_run(client, name: str, namespace: str):
    found = client.list_recurring_runs(
        page_size=PAGE_SIZE, namespace=namespace or None,
        filter=json.dumps({"predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": name}]}))
    runs = found.recurring_runs or []
    if not runs:
        raise ChurnopsError(f"No recurring run named {name!r} in KFP: a triggered retrain runs what it runs. "
                            "Sync the schedules (`churnops sync`) or fix retrain_recurring_run.")
    return runs[0]


def _experiments(client, prefix: str, namespace: str) -> list[tuple[str, float]]:
    out, token = [], ""
    predicate = {"key": "name", "operation": "IS_SUBSTRING", "string_value": prefix}
    while True:
        page = client.list_experiments(page_token=token, page_size=PAGE_SIZE, namespace=namespace or None,
                                       filter=json.dumps({"predicates": [predicate]}))
        for experiment in page.experiments or []:
            # KFP stores CreatedAtInSec: whole seconds (the double adds a sub-second tick for sort order).
            out.append((experiment.display_name, float(int(experiment.created_at.timestamp()))))
        token = page.next_page_token or ""
        if not token:
            return out


def _describe(exc: kfp_server_api.ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
        return f"HTTP {exc.status}: {body.get('message') or body.get('error') or exc.body}"
    except (ValueError, AttributeError):
        return f"HTTP {exc.status}: {exc.reason}"
