"""The KFP calls a sync makes, through the real `kfp.Client`, with bounded retries.

Reads: one filtered lookup per declared experiment, pipeline and pipeline version, and the
recurring runs of the namespace page by page. Writes: only what the plan says. Transient
failures (HTTP 429/5xx, connection errors) are retried a bounded number of times with
backoff; anything else fails at once with the API's message.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import kfp
import kfp_server_api
import urllib3

from churnops.errors import ChurnopsError
from churnops.schedules.config import RecurringRunDecl
from churnops.schedules.state import Observed, ObservedRun, parse_marker

# In-cluster token files, in order of preference: the KFP audience-bound projected token
# (multi-user KFP), then the pod's ServiceAccount token.
KFP_TOKEN_PATH = Path("/var/run/secrets/kubeflow/pipelines/token")
SA_TOKEN_PATH = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
TRANSIENT_STATUS = {429, 500, 502, 503, 504}
# A create (POST) is not idempotent: KFP answers 500 for deterministic failures (a missing
# version, a too-long name or description) and also after it made the ScheduledWorkflow and then
# failed to store the row (resource_manager.go: CreateJob). Retrying it on 500 adds orphans, so a
# create is retried only where nothing was done: 429 (rate limited) and 503 (unavailable).
CREATE_RETRY_STATUS = {429, 503}
PAGE_SIZE = 100  # under the API server's cap of 200 (list/list.go: validatePageSize)
# Delete a recurring run but not the Workflows its ScheduledWorkflow owns: without a policy,
# Kubernetes garbage collection deletes the runs in flight (resource_manager.go: DeleteJob,
# propagationPolicyMap; kubeflow/pipelines#7421).
DELETE_PROPAGATION = "ORPHAN"


class ApiError(ChurnopsError):
    """KFP refused a call or could not be reached (after retries for transient errors)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    first_delay: float = 0.5
    sleep: Callable[[float], None] = time.sleep


def is_transient(exc: BaseException, idempotent: bool = True) -> bool:
    if isinstance(exc, kfp_server_api.ApiException):
        return exc.status in (TRANSIENT_STATUS if idempotent else CREATE_RETRY_STATUS) or exc.status == 0
    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError))


def describe(exc: BaseException) -> str:
    if isinstance(exc, kfp_server_api.ApiException):
        try:
            body = json.loads(exc.body or "{}")
            message = body.get("message") or body.get("error") or exc.body
        except (ValueError, AttributeError):
            message = exc.body or exc.reason
        return f"HTTP {exc.status}: {message}"
    return f"{type(exc).__name__}: {exc}"


def effective_start_time(start_time: str | None, now: datetime) -> str | None:
    """The start_time sent at create: a future one as declared; a past one is left out.

    With no LastTriggeredTime the controller counts from start_time, else from the creation time
    (cron_schedule.go: getEffectiveLastJobTime; periodic_schedule.go: GetNextScheduledEpoch), so a
    past start_time makes a new (or replacement) run fire the latest past slot at once (no_catchup)
    or backfill every slot since (catchup). Left out, the run's first fire is the first slot after
    it was created: a replace never reruns a past slot and never backfills.
    """
    if start_time is None:
        return None
    parsed = datetime.fromisoformat(start_time.replace("Z", "+00:00"))
    return start_time if parsed > now else None


def eq_filter(key: str, value: str) -> str:
    return json.dumps({"predicates": [{"operation": "EQUALS", "key": key, "string_value": value}]})


def token_path(token_file: str | None) -> Path | None:
    if token_file:
        return Path(token_file)
    return next((path for path in (KFP_TOKEN_PATH, SA_TOKEN_PATH) if path.is_file()), None)


def connect(host: str | None, namespace: str | None, token_file: str | None) -> kfp.Client:
    """A kfp.Client for `host` (or the in-cluster KFP Service), authenticated by a token file."""
    from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

    if token_file and not Path(token_file).is_file():
        raise ApiError(f"token file {token_file} not found; pass an existing --token-file or omit it")
    if not host:
        from churnops.schedules.cluster import core_v1, discover_host

        try:
            host = discover_host(core_v1())
        except Exception as exc:  # noqa: BLE001 (whatever failed, the fix is --host)
            raise ApiError(f"no --host given and the KFP Service could not be found through the Kubernetes "
                           f"API ({exc}). Pass --host http://HOST:PORT (e.g. a port-forward to svc/ml-pipeline "
                           "in namespace kubeflow).") from None
    path = token_path(token_file)
    credentials = ServiceAccountTokenVolumeCredentials(str(path)) if path else None
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP v2.0.0-beta.2 and later"
        try:
            return kfp.Client(host=host, namespace=namespace or "kubeflow", credentials=credentials)
        except Exception as exc:  # noqa: BLE001 (the client checks /healthz in its constructor)
            raise ApiError(f"cannot reach KFP at {host}: {describe(exc)}. Check --host and that the "
                           "ml-pipeline Service answers.") from exc


# resource_manager.go: ChangeJobMode's message when enabling a run whose ScheduledWorkflow is gone.
SCHEDULE_GONE = "Check if the scheduled workflow exists"


class ScheduleGoneError(ApiError):
    """Enable failed because the recurring run's ScheduledWorkflow no longer exists."""


class KfpApi:
    """The sync's view of one KFP namespace. Every call goes through `call` (retries, errors)."""

    def __init__(self, client: kfp.Client, namespace: str | None = None,
                 retry: RetryPolicy | None = None, page_size: int = PAGE_SIZE,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.namespace = namespace
        self.retry = retry or RetryPolicy()
        self.page_size = page_size

    def call(self, what: str, fn: Callable[..., Any], *args: Any, idempotent: bool = True, **kwargs: Any) -> Any:
        delay = self.retry.first_delay
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return fn(*args, **kwargs)
            except ScheduleGoneError:
                raise
            except Exception as exc:  # noqa: BLE001 (classified just below)
                if not is_transient(exc, idempotent) or attempt == self.retry.attempts:
                    tries = f" after {attempt} attempts" if attempt > 1 else ""
                    raise ApiError(f"{what} failed{tries}: {describe(exc)}") from exc
                self.retry.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    # -- reads ---------------------------------------------------------------------------------

    def observe(self, experiments: list[str], pipelines: dict[str, str]) -> Observed:
        """Experiments and pipelines by name, each pipeline's version named `pipelines[name]`,
        and every recurring run of the namespace."""
        observed = Observed()
        for name in experiments:
            found = self.call(f"look up experiment {name}", self.client.list_experiments,
                              filter=eq_filter("name", name), namespace=self.namespace, page_size=2)
            for experiment in found.experiments or []:
                observed.experiments[name] = (experiment.experiment_id, experiment.storage_state == "ARCHIVED")
        for name, version in pipelines.items():
            found = self.call(f"look up pipeline {name}", self.client.list_pipelines,
                              filter=eq_filter("name", name), namespace=self.namespace, page_size=2)
            if not found.pipelines:
                continue
            pipeline_id = observed.pipelines[name] = found.pipelines[0].pipeline_id
            versions = self.call(f"look up version {version} of pipeline {name}", self.client.list_pipeline_versions,
                                 pipeline_id=pipeline_id, filter=eq_filter("name", version), page_size=2)
            if versions.pipeline_versions:
                observed.versions[name] = versions.pipeline_versions[0].pipeline_version_id
        observed.runs = [observed_run(run) for run in self.list_recurring_runs()]
        return observed

    def list_recurring_runs(self) -> list[Any]:
        runs, token = [], ""
        while True:
            page = self.call("list recurring runs", self.client.list_recurring_runs, page_token=token,
                             page_size=self.page_size, namespace=self.namespace)
            runs.extend(page.recurring_runs or [])
            token = page.next_page_token or ""
            if not token:
                return runs

    # -- writes --------------------------------------------------------------------------------

    def create_experiment(self, name: str, description: str) -> str:
        body = kfp_server_api.V2beta1Experiment(display_name=name, description=description, namespace=self.namespace)
        return self._create_or_find(
            f"experiment {name}", lambda: self.client.experiments.experiment_service_create_experiment(experiment=body),
            lambda: self.client.list_experiments(filter=eq_filter("name", name), namespace=self.namespace,
                                                 page_size=2).experiments,
        ).experiment_id

    def unarchive_experiment(self, name: str, experiment_id: str) -> None:
        self.call(f"unarchive experiment {name}", self.client.unarchive_experiment, experiment_id)

    def create_pipeline(self, name: str, description: str) -> str:
        body = kfp_server_api.V2beta1Pipeline(name=name, display_name=name, description=description,
                                              namespace=self.namespace)
        return self._create_or_find(
            f"pipeline {name}", lambda: self.client.pipelines.pipeline_service_create_pipeline(pipeline=body),
            lambda: self.client.list_pipelines(filter=eq_filter("name", name), namespace=self.namespace,
                                               page_size=2).pipelines,
        ).pipeline_id

    def upload_version(self, pipeline: str, pipeline_id: str, version: str, path: Path, description: str) -> str:
        return self._create_or_find(
            f"version {version} of pipeline {pipeline}",
            lambda: self.client.pipeline_uploads.upload_pipeline_version(
                str(path), name=version, pipelineid=pipeline_id, description=description),
            lambda: self.client.list_pipeline_versions(pipeline_id=pipeline_id,
                                                       filter=eq_filter("name", version),
                                                       page_size=2).pipeline_versions,
        ).pipeline_version_id

    def _create_or_find(self, what: str, create: Callable[[], Any], find: Callable[[], list | None]) -> Any:
        """Create a named object. A 409 means it is already there (a retried create whose first
        answer was lost, or a concurrent sync): return the one found by name instead."""
        try:
            return self.call(f"create {what}", create, idempotent=False)
        except ApiError as exc:
            if getattr(exc.__cause__, "status", None) != 409:
                raise
            found = self.call(f"look up {what}", find) or []
            if not found:
                raise
            return found[0]

    def create_recurring_run(self, decl: RecurringRunDecl, description: str, experiment_id: str,
                             pipeline_id: str, version_id: str, enabled: bool) -> str:
        created = self.call(
            f"create recurring run {decl.name}", self.client.create_recurring_run,
            idempotent=False,
            experiment_id=experiment_id, job_name=decl.name, description=description,
            start_time=effective_start_time(decl.start_time, self.clock()),
            end_time=decl.end_time, interval_second=decl.interval_seconds,
            cron_expression=decl.cron, max_concurrency=decl.max_concurrency, no_catchup=not decl.catchup,
            params=decl.parameters, pipeline_id=pipeline_id, version_id=version_id, enabled=enabled,
            service_account=decl.service_account, pipeline_root=decl.pipeline_root,
        )
        return created.recurring_run_id

    def enable_recurring_run(self, name: str, run_id: str) -> None:
        """Raises ScheduleGoneError, not retried, if KFP says the run's ScheduledWorkflow does not exist:
        resource_manager.go: ChangeJobMode (2.17.0) answers that with a deterministic 500."""
        what = f"enable recurring run {name} ({run_id})"

        def enable(run_id: str) -> Any:
            try:
                return self.client.enable_recurring_run(run_id)
            except Exception as exc:
                if getattr(exc, "status", None) == 500 and SCHEDULE_GONE in str(getattr(exc, "body", "") or ""):
                    raise ScheduleGoneError(f"{what} failed: KFP lists the run but its ScheduledWorkflow is gone: "
                                       f"{describe(exc)}") from exc
                raise

        self.call(what, enable, run_id)

    def disable_recurring_run(self, name: str, run_id: str) -> None:
        self._gone_is_done(f"disable recurring run {name} ({run_id})", self.client.disable_recurring_run, run_id)

    def delete_recurring_run(self, name: str, run_id: str) -> None:
        # kfp.Client.delete_recurring_run cannot pass a propagation policy; its generated API can.
        self._gone_is_done(f"delete recurring run {name} ({run_id})", self._delete_orphaning_runs, run_id)

    def _delete_orphaning_runs(self, run_id: str) -> Any:
        api = self.client._recurring_run_api  # noqa: SLF001 (kfp.Client keeps the generated API here)
        return api.recurring_run_service_delete_recurring_run(run_id, propagation_policy=DELETE_PROPAGATION)

    def _gone_is_done(self, what: str, fn: Callable[..., Any], run_id: str) -> None:
        """Disabling or deleting a run that no longer exists (404) has reached its goal: after a
        retry whose first attempt went through, or a run deleted by hand meanwhile."""
        try:
            self.call(what, fn, run_id)
        except ApiError as exc:
            if getattr(exc.__cause__, "status", None) != 404:
                raise


def observed_run(run: Any) -> ObservedRun:
    scope, spec = parse_marker(run.description)
    trigger = run.trigger
    cron = trigger.cron_schedule.cron if trigger and trigger.cron_schedule else None
    interval = trigger.periodic_schedule.interval_second if trigger and trigger.periodic_schedule else None
    reference = run.pipeline_version_reference
    return ObservedRun(
        id=run.recurring_run_id,
        name=run.display_name or "",
        enabled=(run.status == "ENABLED") if run.status else run.mode == "ENABLE",
        scope=scope,
        spec=spec,
        fields={
            "cron": cron,
            "interval_seconds": int(interval) if interval else None,
            "max_concurrency": int(run.max_concurrency) if run.max_concurrency else None,
            "catchup": not run.no_catchup,
            "service_account": run.service_account or "",
            "parameters": dict((run.runtime_config.parameters or {}) if run.runtime_config else {}),
            "pipeline_root": (run.runtime_config.pipeline_root or None) if run.runtime_config else None,
            "version_id": reference.pipeline_version_id if reference else None,
            "experiment_id": run.experiment_id,
        },
    )
