"""A local HTTP server that follows KFP's v2beta1 REST API for the calls `kfp.Client` makes.

Test infrastructure (used by tests/ and benchmarks/), not part of a deployment. It keeps
experiments, pipelines, pipeline versions and recurring runs in memory, answers like the KFP
API server does (snake_case JSON, int64 as strings, grpc-gateway error bodies, 404 on a
missing id, 409 on a duplicate name, 400 on a bad filter, trigger or page token), paginates
with opaque page tokens, applies `filter` predicates, and records every call so tests can
count reads and writes and check their order. `fail(...)` injects errors (e.g. a 503 on the
third recurring-run create). What it does not model is listed in docs/schedules.md.

    with FakeKfpServer() as kfp:
        client = kfp_client(kfp.url)   # the real kfp.Client over HTTP
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

import yaml

from support.kfp_controller import NEVER, Cron, CronError, Schedule, should_fire

API = "/apis/v2beta1"
# Rules below cite kubeflow/pipelines at tag 2.17.0 (commit 4a3592cb2dd0a91a4652ab93893ec8beda1f3158),
# paths under backend/src/apiserver/ unless absolute. The table is in docs/schedules.md.
DEFAULT_PAGE_SIZE = 20  # list/list.go: validatePageSize (defaultPageSize)
MAX_PAGE_SIZE = 200  # list/list.go: validatePageSize (maxPageSize; larger sizes are cut to it)
# MySQL: a Go `string` column without a type is VARCHAR(255) (client_manager/client_manager.go:
# InitDBClient sets gorm DefaultStringSize 255): model/job.go Job.Description, model/experiment.go
# Experiment.Description. An over-long insert fails -> 500 (resource_manager.go: CreateJob stores
# the row after it created the ScheduledWorkflow, so that one is left behind).
MYSQL_VARCHAR = 255
# The filter keys each list accepts (filter/filter.go: NewWithKeyMap refuses any other key with
# InvalidInput -> 400), mapped to the field the double keeps. model/experiment.go
# experimentAPIToModelFieldMap, model/pipeline.go pipelineAPIToModelFieldMap,
# model/pipeline_version.go APIToModelFieldMap, model/job.go jobAPIToModelFieldMap.
FILTER_KEYS = {
    "experiments": {"id": "experiment_id", "experiment_id": "experiment_id", "name": "display_name",
                    "display_name": "display_name", "created_at": "created_at", "description": "description",
                    "namespace": "namespace", "storage_state": "storage_state"},
    "pipelines": {"id": "pipeline_id", "pipeline_id": "pipeline_id", "name": "name", "display_name": "display_name",
                  "created_at": "created_at", "description": "description", "namespace": "namespace"},
    "pipeline_versions": {"id": "pipeline_version_id", "pipeline_version_id": "pipeline_version_id", "name": "name",
                          "display_name": "display_name", "created_at": "created_at", "description": "description"},
    # model/run.go: runAPIToModelFieldMap (a subset: the keys the retrain trigger and tests use).
    "runs": {"id": "run_id", "run_id": "run_id", "name": "display_name", "display_name": "display_name",
             "created_at": "created_at", "description": "description", "namespace": "namespace",
             "experiment_id": "experiment_id", "state": "state", "storage_state": "storage_state"},
    "recurringRuns": {"id": "recurring_run_id", "recurring_run_id": "recurring_run_id", "name": "display_name",
                      "display_name": "display_name", "created_at": "created_at", "updated_at": "updated_at",
                      "description": "description"},
}
# api/v2beta1/recurring_run.proto DeletePropagationPolicy, resource_manager.go: propagationPolicyMap.
PROPAGATION_POLICIES = ("FOREGROUND", "BACKGROUND", "ORPHAN")
# Multi-user mode. auth/authenticator_token_review.go: TokenReviewAuthenticator (Authorization:
# Bearer <token>, reviewed with audience common/const.go DefaultTokenReviewAudience, every audience
# must be present: ensureAudience); auth/auth.go: IdentityHeaderMissingError; resource/
# resource_manager.go: IsAuthorized (SubjectAccessReview on group common/const.go RbacPipelinesGroup,
# resources experiments/pipelines/jobs/runs, verbs get/list/create/delete/enable/disable/archive/unarchive;
# Unauthenticated -> 401, PermissionDenied -> 403 as common errors map them).
TOKEN_AUDIENCE = "pipelines.kubeflow.org"
RBAC_GROUP = "pipelines.kubeflow.org"
VIRTUAL_EPOCH = 1_767_571_200  # 2026-01-05T00:00:00Z, a Monday: where the virtual clock starts
GRPC_CODES = {400: 3, 404: 5, 409: 6, 500: 13, 501: 12, 503: 14}
# filter.proto's Predicate.Op; kfp.Client sends the numbers, protojson also takes the names.
FILTER_OPERATIONS = {1: "EQUALS", 2: "NOT_EQUALS", 3: "GREATER_THAN", 5: "GREATER_THAN_EQUALS", 6: "LESS_THAN",
                     7: "LESS_THAN_EQUALS", 8: "IN", 9: "IS_SUBSTRING"}


# template/v2_template.go: NewV2SpecTemplate (what an upload of a v2 package must be).
SCHEMA_VERSION = "2.1.0"
PIPELINE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def spec_problem(documents: list) -> None:
    """400 for a package KFP's NewV2SpecTemplate refuses: no pipeline spec, two of them, another
    schema version, an empty or invalid pipelineInfo.name, no root (its error texts). Not modelled:
    protojson's strict refusal of unknown fields in the spec."""
    specs = [d for d in documents if isinstance(d, dict) and "pipelineInfo" in d]  # isPipelineSpec
    if len(specs) > 1:
        raise HttpError(400, "Invalid pipeline spec: multiple pipeline specs provided")
    if not specs:
        raise HttpError(400, "Invalid pipeline spec: no pipeline spec is provided")
    spec = specs[0]
    if spec.get("schemaVersion") != SCHEMA_VERSION:
        raise HttpError(400, f"Invalid pipeline spec: KFP only supports schema version 2.1.0, but the pipeline spec "
                             f"has version {spec.get('schemaVersion', '')}")
    name = (spec.get("pipelineInfo") or {}).get("name") or ""
    if not name:
        raise HttpError(400, "Invalid pipeline spec: invalid v2 pipeline spec: name is empty")
    if not PIPELINE_NAME.search(name):  # regexp.MatchString: a match anywhere in the name
        raise HttpError(400, "Invalid pipeline spec: invalid v2 pipeline spec: name should consist of lower case "
                             "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
    if not spec.get("root"):
        raise HttpError(400, "Invalid pipeline spec: invalid v2 pipeline spec: root component is empty")


# template/v2_template.go: validatePipelineJobInputs, run for a run and for a recurring run (its
# ScheduledWorkflow) against the root's inputDefinitions: JSON kinds per parameterType.
_KINDS = {"NUMBER_DOUBLE": (int, float), "NUMBER_INTEGER": (int, float), "STRING": (str,), "BOOLEAN": (bool,),
          "LIST": (list,), "STRUCT": (dict,)}


def check_job_inputs(spec: dict, parameters: dict) -> None:
    """400 for run parameters the pipeline does not take, lacks, or that have the wrong JSON kind."""
    required = ((spec.get("root") or {}).get("inputDefinitions") or {}).get("parameters") or {}
    for name, definition in required.items():
        if name not in parameters:
            if not definition.get("isOptional") and "defaultValue" not in definition:
                raise HttpError(400, f"parameter {name} is not optional, yet has neither default value nor user "
                                     "provided value")
            continue
        kind = definition.get("parameterType", "")
        value = parameters[name]
        ok = isinstance(value, _KINDS[kind]) and not (kind.startswith("NUMBER") and isinstance(value, bool)) \
            if kind in _KINDS else False
        if not ok:
            raise HttpError(400, f"input parameter {name} requires type {kind.lower()}, but the parameter value is "
                                 f"not of that value type")
    extra = [name for name in parameters if name not in required]
    if extra:
        raise HttpError(400, f"parameter(s) provided are not required by pipeline: {', '.join(extra)}")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    authorization: str = ""

    @property
    def mutating(self) -> bool:
        return self.method != "GET"

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass
class _Fault:
    method: str
    path: re.Pattern
    status: int
    skip: int  # matching calls to let through first
    times: int
    applied: bool  # act on the call, then answer the error anyway (a lost response)


@dataclass
class _State:
    experiments: dict[str, dict] = field(default_factory=dict)
    pipelines: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, dict] = field(default_factory=dict)
    recurring_runs: dict[str, dict] = field(default_factory=dict)
    # One-off runs created through the runs API ({run id: run}); their Workflows are in `fired`
    # with no owner. (Runs fired by recurring runs are only in `fired`.)
    runs: dict[str, dict] = field(default_factory=dict)
    # ScheduledWorkflows left behind by a create whose row insert failed (MySQL mode): they fire,
    # but the API does not list them.
    hidden_schedules: dict[str, dict] = field(default_factory=dict)


@dataclass
class FiredRun:
    run_id: str
    owner: str | None  # recurring run id
    name: str  # the recurring run's display name when it fired
    scheduled: int  # the slot it was fired for (epoch seconds)
    started: int
    finishes: int
    state: str = "RUNNING"  # RUNNING -> SUCCEEDED, or KILLED by garbage collection


class FakeKfpServer:
    def __init__(self, multi_user: bool = False, mysql: bool = True, run_seconds: int = 3600) -> None:
        self.multi_user = multi_user
        self.mysql = mysql  # KFP's default store; False: no column limits (e.g. a sqlite dev store)
        self.run_seconds = run_seconds  # how long a fired run takes on the virtual clock
        self.now = VIRTUAL_EPOCH  # the virtual clock (epoch seconds); moves only in advance()
        self.fired: list[FiredRun] = []
        # Multi-user: the TokenReview answers {token: (user, audiences)} and the RBAC table
        # {(user, namespace, resource, verb)} that SubjectAccessReview allows.
        self.tokens: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.rbac: set[tuple[str, str, str, str]] = set()
        self.state = _State()
        self.calls: list[Call] = []
        self.unmodeled: list[str] = []
        # Kubernetes ConfigMaps served at /api/v1/namespaces/<ns>/configmaps/<name>: {(ns, name): data}.
        self.config_maps: dict[tuple[str, str], dict[str, str]] = {}
        # After each successful write: {recurring run id: (display name, enabled)}.
        self.history: list[dict[str, tuple[str, bool]]] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._clock = itertools.count(1)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval: shutdown() waits for it, and tests start and stop many servers.
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        default = self._new_experiment({
            "display_name": "Default",
            "description": "All runs created without specifying an experiment will be grouped here.",
        })
        self.default_experiment_id = default["experiment_id"]

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeKfpServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def __enter__(self) -> "FakeKfpServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test helpers -----------------------------------------------------------------------------

    def fail(self, method: str, path_pattern: str, status: int = 503, *, skip: int = 0, times: int = 1,
             applied: bool = False) -> None:
        """Answer `status` to matching calls, after letting `skip` through. Without acting, or
        with `applied=True` after acting (the server did it, the client never heard)."""
        with self._lock:
            self._faults.append(_Fault(method, re.compile(path_pattern), status, skip, times, applied))

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self.history.clear()

    def mutating_calls(self) -> list[Call]:
        return [call for call in self.calls if call.mutating]

    def read_calls(self) -> list[Call]:
        return [call for call in self.calls if not call.mutating]

    def add_recurring_run(self, **fields: Any) -> dict:
        """Create a recurring run directly (e.g. one made by someone else in the UI)."""
        with self._lock:
            return self._create_recurring_run({"max_concurrency": "1", "mode": "ENABLE", **fields})

    # -- request handling -------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        parsed = urlparse(raw_path)
        path = parsed.path
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        with self._lock:
            payload: Any = None
            fault: _Fault | None = None
            try:
                payload = _decode_body(headers, body)
                if self.multi_user and path.startswith(API) and not path.endswith("/healthz"):
                    self._authorize(method, path, query, payload, headers.get("Authorization", ""))
                fault = self._take_fault(method, path)
                if fault is not None and fault.applied:
                    self._route(method, path, query, payload)
                if fault is not None:
                    raise HttpError(fault.status, f"injected failure ({fault.status})")
                status, response = 200, self._route(method, path, query, payload)
            except HttpError as exc:
                status = exc.status
                response = {"error": exc.message, "code": GRPC_CODES.get(exc.status, 2), "message": exc.message,
                            "details": []}
            logged = {k: v for k, v in payload.items() if k != "uploadfile"} if isinstance(payload, dict) else payload
            self.calls.append(Call(method, path, query, logged, status, headers.get("Authorization", "")))
            if method != "GET" and (status == 200 or (fault is not None and fault.applied)):
                self.history.append({run_id: (run["display_name"], run["status"] == "ENABLED")
                                     for run_id, run in self.state.recurring_runs.items()})
            return status, response

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method == method and fault.path.search(path):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                return fault
        return None

    def _route(self, method: str, path: str, query: dict, body: Any) -> Any:
        for route_method, pattern, handler in self._routes():
            if route_method == method:
                match = re.fullmatch(pattern, path)
                if match:
                    return handler(query, body, *match.groups())
        self.unmodeled.append(f"{method} {path}")
        raise HttpError(404, f"fake KFP: {method} {path} is not modeled")

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        rid = r"([^/:]+)"
        return [
            ("GET", f"{API}/healthz", lambda q, b: {"commit_sha": "fake", "tag_name": "fake-2.x",
                                                    "multi_user": self.multi_user}),
            ("POST", f"{API}/experiments", self._create_experiment),
            ("GET", f"{API}/experiments", lambda q, b: self._list("experiments", self.state.experiments, q)),
            ("GET", f"{API}/experiments/{rid}", lambda q, b, i: self._get(self.state.experiments, i, "experiment")),
            ("DELETE", f"{API}/experiments/{rid}", self._delete_experiment),
            ("POST", f"{API}/runs", lambda q, b: self._create_run(b or {})),
            ("GET", f"{API}/runs", lambda q, b: self._list("runs", self._runs_of(q), q)),
            ("GET", f"{API}/runs/{rid}", lambda q, b, i: self._get(self.state.runs, i, "run")),
            ("POST", f"{API}/experiments/{rid}:archive", lambda q, b, i: self._set_storage(i, "ARCHIVED")),
            ("POST", f"{API}/experiments/{rid}:unarchive", lambda q, b, i: self._set_storage(i, "AVAILABLE")),
            ("POST", f"{API}/pipelines", lambda q, b: self._create_pipeline(b or {})),
            ("GET", f"{API}/pipelines", lambda q, b: self._list("pipelines", self.state.pipelines, q)),
            ("POST", f"{API}/pipelines/upload", self._upload_pipeline),
            ("POST", f"{API}/pipelines/upload_version", self._upload_version),
            ("GET", f"{API}/pipelines/{rid}", lambda q, b, i: self._get(self.state.pipelines, i, "pipeline")),
            ("GET", f"{API}/pipelines/{rid}/versions", self._list_versions),
            ("GET", f"{API}/pipelines/{rid}/versions/{rid}", self._get_version),
            ("POST", f"{API}/recurringruns", lambda q, b: self._create_recurring_run(b or {})),
            ("GET", f"{API}/recurringruns", self._list_recurring_runs),
            ("GET", f"{API}/recurringruns/{rid}", lambda q, b, i: self._get(self.state.recurring_runs, i, "recurring run")),
            ("DELETE", f"{API}/recurringruns/{rid}", self._delete_recurring_run),
            ("POST", f"{API}/recurringruns/{rid}:enable", lambda q, b, i: self._set_mode(i, True)),
            ("POST", f"{API}/recurringruns/{rid}:disable", lambda q, b, i: self._set_mode(i, False)),
            # The Kubernetes API reads the sync makes: the KFP Service, and ConfigMaps.
            ("GET", r"/api/v1/namespaces/([^/]+)/services/([^/]+)", self._k8s_service),
            ("GET", r"/api/v1/namespaces/([^/]+)/configmaps/([^/]+)", self._k8s_config_map),
        ]

    # -- resources --------------------------------------------------------------------------------

    def _now(self) -> str:
        # The virtual clock, plus a strictly increasing tick (below a second each) that keeps the
        # default sort (created_at, then id) stable.
        tick = next(self._clock)
        return datetime.fromtimestamp(self.now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{tick:06d}Z"

    # -- multi-user authentication and authorization ----------------------------------------------

    def grant(self, user: str, namespace: str, resources: tuple[str, ...] = ("experiments", "pipelines", "jobs"),
              verbs: tuple[str, ...] = ("get", "list", "create", "delete", "enable", "disable", "archive",
                                        "unarchive")) -> None:
        for resource in resources:
            for verb in verbs:
                self.rbac.add((user, namespace, resource, verb))

    def _authorize(self, method: str, path: str, query: dict, body: Any, authorization: str) -> None:
        if not authorization.startswith("Bearer "):
            raise HttpError(401, "Request header error: there is no user identity header.")
        review = self.tokens.get(authorization[len("Bearer "):].strip())
        if review is None:
            raise HttpError(401, "Request header error: Failed to review the token provided")
        user, audiences = review
        if TOKEN_AUDIENCE not in audiences:
            raise HttpError(401, f"Failed to find all of '[{TOKEN_AUDIENCE}]' in audience: {list(audiences)}")
        resource, verb, namespace = self._attributes(method, path, query, body)
        if namespace == "" and resource == "pipelines" and verb in ("get", "list"):
            return  # shared pipelines (resource_manager.go: IsAuthorized lets get/list through)
        if (user, namespace, resource, verb) not in self.rbac:
            raise HttpError(403, f"PermissionDenied: User '{user}' is not authorized with reason: "
                                 f"(request: &ResourceAttributes{{Namespace:{namespace},Verb:{verb},"
                                 f"Group:{RBAC_GROUP},Resource:{resource}}})")

    def _attributes(self, method: str, path: str, query: dict, body: Any) -> tuple[str, str, str]:
        rest = path[len(API) + 1:]
        head = rest.split("/")[0].split(":")[0]
        resource = {"experiments": "experiments", "pipelines": "pipelines", "recurringruns": "jobs",
                    "runs": "runs"}.get(head, head)
        action = rest.rsplit(":", 1)[1] if ":" in rest else ""
        parts = [part.split(":")[0] for part in rest.split("/")]
        item_id = parts[1] if len(parts) > 1 and parts[1] not in ("upload", "upload_version") else ""
        if action:
            verb = action
        elif method == "DELETE":
            verb = "delete"
        elif method == "POST":
            verb = "create"
        else:
            verb = "get" if item_id and len(parts) == 2 else "list"
        namespace = query.get("namespace") or (body.get("namespace") if isinstance(body, dict) else "") or ""
        table = {"experiments": self.state.experiments, "pipelines": self.state.pipelines,
                 "jobs": self.state.recurring_runs}.get(resource, {})
        if item_id in table:
            namespace = table[item_id].get("namespace", "")
        elif query.get("pipelineid") in self.state.pipelines:
            namespace = self.state.pipelines[query["pipelineid"]].get("namespace", "")
        if resource == "jobs" and method == "POST" and not action and isinstance(body, dict):
            experiment = self.state.experiments.get(body.get("experiment_id") or "")
            namespace = experiment["namespace"] if experiment else namespace
        if resource == "runs":
            # server/run_server.go: createRun takes the namespace from the run's experiment
            # (GetValidExperimentNamespacePair), listRuns from the experiment_id query
            # (GetNamespaceFromExperimentId); canAccessRun of a run id uses the run's namespace.
            experiment_id = query.get("experiment_id") or (body.get("experiment_id") if isinstance(body, dict) else "")
            if item_id in self.state.runs:
                namespace = self.state.runs[item_id]["namespace"]
            elif experiment_id in self.state.experiments:
                namespace = self.state.experiments[experiment_id]["namespace"]
        return resource, verb, namespace

    # -- the simulated ScheduledWorkflow controller -----------------------------------------------

    def clock(self) -> datetime:
        """The virtual time, for the sync under test (KfpApi(clock=...))."""
        return datetime.fromtimestamp(self.now, tz=timezone.utc)

    def advance(self, seconds: int) -> list[FiredRun]:
        """Move the virtual clock; fire what the controller would, finish runs. Returns the fires.

        crd/controller.go: syncHandler counts the active Workflows, submitNextWorkflowIfNeeded
        asks GetNextScheduledEpoch (enabled, active < max_concurrency, next <= now), and
        updateStatus records LastTriggeredTime = the fired slot (crd/util/scheduled_workflow.go:
        UpdateStatus). The real controller is woken by its work queue; here every instant at which
        something can change (a slot, a run finishing) is visited in order."""
        with self._lock:
            target = self.now + seconds
            fired: list[FiredRun] = []
            while True:
                moment = min([self._next_event(), target])
                self.now = moment
                self._finish_runs()
                fired.extend(self._fire_due())
                if moment >= target:
                    return fired

    def _schedules(self) -> list[tuple[str | None, dict]]:
        # A recurring run whose ScheduledWorkflow was deleted behind the API's back fires nothing.
        return [*((i, r) for i, r in self.state.recurring_runs.items() if not r.get("_swf_gone")),
                *((None, r) for r in self.state.hidden_schedules.values())]

    def _active(self, owner_key: str) -> int:
        return sum(1 for run in self.fired if run.state == "RUNNING" and run.owner == owner_key)

    def _next_event(self) -> int:
        events = [run.finishes for run in self.fired if run.state == "RUNNING"]
        for _, job in self._schedules():
            if job["status"] == "ENABLED":
                nxt = job["_schedule"].next_epoch(self.now)
                if nxt != NEVER:
                    events.append(max(nxt, self.now + 1) if nxt <= self.now else nxt)
        return min(events, default=NEVER)

    def _finish_runs(self) -> None:
        for run in self.fired:
            if run.state == "RUNNING" and run.finishes <= self.now:
                run.state = "SUCCEEDED"
                if run.run_id in self.state.runs:
                    self.state.runs[run.run_id]["state"] = "SUCCEEDED"

    def _fire_due(self) -> list[FiredRun]:
        fired = []
        for _, job in self._schedules():
            owner_key = job["_owner_key"]
            while True:
                nxt, fire = should_fire(job["_schedule"], job["status"] == "ENABLED", self._active(owner_key),
                                        int(job["max_concurrency"]), self.now)
                if not fire:
                    break
                run = FiredRun(str(uuid.uuid4()), owner_key, job["display_name"], nxt, self.now,
                               self.now + self.run_seconds)
                job["_schedule"].last_triggered = nxt
                self.fired.append(run)
                fired.append(run)
        return fired

    def killed_runs(self) -> list[FiredRun]:
        return [run for run in self.fired if run.state == "KILLED"]

    def rename(self, kind: str, item_id: str, display_name: str) -> None:
        """Change a display name in place, as the UI can (pipeline_server.go: UpdatePipeline /
        UpdatePipelineVersion take a new display name; `name` stays)."""
        with self._lock:
            table = {"pipeline": self.state.pipelines, "version": self.state.versions}[kind]
            table[item_id]["display_name"] = display_name

    def _get(self, table: dict, item_id: str, kind: str) -> dict:
        if item_id not in table:
            raise HttpError(404, f"{kind} {item_id} not found")
        return table[item_id]

    def _new_experiment(self, body: dict) -> dict:
        experiment = {"experiment_id": str(uuid.uuid4()), "display_name": body["display_name"],
                      "description": body.get("description") or "", "created_at": self._now(),
                      "namespace": body.get("namespace") or "", "storage_state": "AVAILABLE"}
        self.state.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def _create_experiment(self, query: dict, body: Any) -> dict:
        if not isinstance(body, dict) or not body.get("display_name"):
            raise HttpError(400, "experiment display_name is required")
        if self.mysql and len(body.get("description") or "") > MYSQL_VARCHAR:
            raise HttpError(500, "Failed to create an experiment: InternalServerError: Error 1406 (22001): "
                                 "Data too long for column 'Description' at row 1")
        namespace = body.get("namespace") or ""
        if any(e["display_name"] == body["display_name"] and e["namespace"] == namespace
               for e in self.state.experiments.values()):
            raise HttpError(409, f"experiment {body['display_name']!r} already exists")
        return self._new_experiment(body)

    def _delete_experiment(self, query: dict, body: Any, experiment_id: str) -> dict:
        self._get(self.state.experiments, experiment_id, "experiment")
        del self.state.experiments[experiment_id]
        return {}

    def _create_run(self, body: dict) -> dict:
        """A one-off run (run_server.go: CreateRun): from a pipeline version or an inline spec, in an
        experiment (the default one when none is named). It runs `run_seconds` on the virtual clock."""
        if not body.get("display_name"):
            raise HttpError(400, "run display_name is required")
        experiment = self._get(self.state.experiments, body.get("experiment_id") or self.default_experiment_id,
                               "experiment")
        reference = body.get("pipeline_version_reference") or {}
        if not body.get("pipeline_spec"):
            version = self._get(self.state.versions, reference.get("pipeline_version_id") or "", "pipeline version")
            check_job_inputs(version["pipeline_spec"], (body.get("runtime_config") or {}).get("parameters") or {})
        if self.mysql and len(body.get("description") or "") > MYSQL_VARCHAR:  # model/run.go Description
            raise HttpError(500, "Failed to create a run: InternalServerError: Error 1406 (22001): "
                                 "Data too long for column 'Description' at row 1")
        run = {"run_id": str(uuid.uuid4()), "display_name": body["display_name"],
               "description": body.get("description") or "", "experiment_id": experiment["experiment_id"],
               "namespace": experiment["namespace"], "pipeline_version_reference": reference or None,
               "runtime_config": body.get("runtime_config") or {"parameters": {}},
               "service_account": body.get("service_account") or "", "created_at": self._now(),
               "state": "RUNNING", "storage_state": "AVAILABLE"}
        self.state.runs[run["run_id"]] = run
        self.fired.append(FiredRun(run["run_id"], None, run["display_name"], self.now, self.now,
                                   self.now + self.run_seconds))
        return run

    def _runs_of(self, query: dict) -> dict:
        if query.get("experiment_id"):
            return {i: r for i, r in self.state.runs.items() if r["experiment_id"] == query["experiment_id"]}
        return self.state.runs

    def _set_storage(self, experiment_id: str, state: str) -> dict:
        self._get(self.state.experiments, experiment_id, "experiment")["storage_state"] = state
        return {}

    def _create_pipeline(self, body: dict) -> dict:
        # server/pipeline_server.go: buildPipelineName (name, else display name); DisplayName
        # defaults to Name. model/pipeline.go: unique index namespace_name on Name.
        name = body.get("name") or body.get("display_name")
        if not name:
            raise HttpError(400, "pipeline display_name is required")
        namespace = body.get("namespace") or ""
        if any(p["name"] == name and p["namespace"] == namespace for p in self.state.pipelines.values()):
            raise HttpError(409, f"pipeline {name!r} already exists in namespace {namespace!r}")
        pipeline = {"pipeline_id": str(uuid.uuid4()), "display_name": body.get("display_name") or name, "name": name,
                    "description": body.get("description") or "", "created_at": self._now(), "namespace": namespace}
        self.state.pipelines[pipeline["pipeline_id"]] = pipeline
        return pipeline

    def _new_version(self, pipeline_id: str, name: str, description: str, package: bytes) -> dict:
        try:
            documents = [doc for doc in yaml.safe_load_all(package) if doc is not None]
        except yaml.YAMLError as exc:
            raise HttpError(400, f"invalid pipeline package: {exc}") from None
        spec_problem(documents)
        version = {"pipeline_id": pipeline_id, "pipeline_version_id": str(uuid.uuid4()), "display_name": name,
                   "name": name, "description": description, "created_at": self._now(),
                   "pipeline_spec": documents[0]}
        if len(documents) > 1:
            version["platform_spec"] = documents[1]
        self.state.versions[version["pipeline_version_id"]] = version
        return version

    def _upload_pipeline(self, query: dict, body: Any) -> dict:
        package = _uploaded(body)
        pipeline = self._create_pipeline({"display_name": query.get("display_name") or query.get("name"),
                                          "description": query.get("description"), "namespace": query.get("namespace")})
        self._new_version(pipeline["pipeline_id"], pipeline["display_name"], pipeline["description"], package)
        return pipeline

    def _upload_version(self, query: dict, body: Any) -> dict:
        package = _uploaded(body)
        pipeline_id = query.get("pipelineid")
        name = query.get("display_name") or query.get("name")
        if not pipeline_id or not name:
            raise HttpError(400, "upload_version needs pipelineid and name")
        self._get(self.state.pipelines, pipeline_id, "pipeline")
        # model/pipeline_version.go: unique index idx_pipelineid_name on (PipelineId, Name).
        if any(v["pipeline_id"] == pipeline_id and v["name"] == name for v in self.state.versions.values()):
            raise HttpError(409, f"pipeline version {name!r} already exists")
        version = self._new_version(pipeline_id, name, query.get("description") or "", package)
        return {k: v for k, v in version.items() if k != "platform_spec"}

    def _list_versions(self, query: dict, body: Any, pipeline_id: str) -> dict:
        self._get(self.state.pipelines, pipeline_id, "pipeline")
        versions = {i: v for i, v in self.state.versions.items() if v["pipeline_id"] == pipeline_id}
        return self._list("pipeline_versions", versions, query)

    def _get_version(self, query: dict, body: Any, pipeline_id: str, version_id: str) -> dict:
        version = self._get(self.state.versions, version_id, "pipeline version")
        if version["pipeline_id"] != pipeline_id:
            raise HttpError(404, f"pipeline version {version_id} not found in pipeline {pipeline_id}")
        return version

    def _create_recurring_run(self, body: dict) -> dict:
        if not body.get("display_name"):
            raise HttpError(400, "recurring run display_name is required")
        experiment_id = body.get("experiment_id") or self.default_experiment_id
        experiment = self._get(self.state.experiments, experiment_id, "experiment")
        if experiment["storage_state"] == "ARCHIVED":
            raise HttpError(400, f"experiment {experiment_id} is archived")
        reference = body.get("pipeline_version_reference") or {}
        if not body.get("pipeline_spec"):
            version = self._get(self.state.versions, reference.get("pipeline_version_id") or "", "pipeline version")
            if reference.get("pipeline_id") and version["pipeline_id"] != reference["pipeline_id"]:
                raise HttpError(400, "pipeline_version_reference: version belongs to another pipeline")
            check_job_inputs(version["pipeline_spec"], (body.get("runtime_config") or {}).get("parameters") or {})
        trigger = body.get("trigger") or {}
        cron, periodic = trigger.get("cron_schedule"), trigger.get("periodic_schedule")
        if bool(cron) == bool(periodic):
            raise HttpError(400, "trigger needs exactly one of cron_schedule and periodic_schedule")
        if cron:
            try:  # server/api_converter.go: toModelJob parses the cron with robfig/cron v1
                Cron.parse(str(cron.get("cron", "")))
            except CronError as exc:
                raise HttpError(400, "Schedule cron is not a supported format(https://godoc.org/github.com/robfig/cron)."
                                     f" Error: {exc}") from None
        if periodic and int(periodic.get("interval_second") or 0) < 1:
            raise HttpError(400, "periodic_schedule.interval_second must be >= 1")
        concurrency = int(body.get("max_concurrency") or 0)
        if not 1 <= concurrency <= 10:  # server/api_converter.go: toModelJob (0, i.e. omitted, is refused too)
            raise HttpError(400, "Max concurrency of a recurring run must be at least 1 and at most 10. "
                                 f"Received {concurrency}")
        if periodic:
            periodic = {**periodic, "interval_second": str(periodic["interval_second"])}
        # api/v2beta1/recurring_run.proto Mode: MODE_UNSPECIFIED(0); server/api_converter.go:
        # toModelJobEnabled treats anything but ENABLE as disabled.
        enabled = body.get("mode") == "ENABLE"
        now = self._now()
        run = {
            "recurring_run_id": str(uuid.uuid4()),
            "display_name": body["display_name"],
            "description": body.get("description") or "",
            "pipeline_version_reference": reference or None,
            "runtime_config": body.get("runtime_config") or {"parameters": {}},
            "service_account": body.get("service_account") or "",
            "max_concurrency": str(concurrency),
            "trigger": {"cron_schedule": cron} if cron else {"periodic_schedule": periodic},
            "mode": "ENABLE" if enabled else "DISABLE",
            "status": "ENABLED" if enabled else "DISABLED",
            "created_at": now,
            "updated_at": now,
            "no_catchup": bool(body.get("no_catchup", False)),
            "namespace": body.get("namespace") or experiment["namespace"],
            "experiment_id": experiment_id,
        }
        run["_schedule"] = Schedule(
            cron=cron.get("cron") if cron else None,
            interval=int(periodic["interval_second"]) if periodic else None,
            start=_epoch_of((cron or periodic).get("start_time")), end=_epoch_of((cron or periodic).get("end_time")),
            catchup=not run["no_catchup"], created=self.now)
        run["_owner_key"] = run["recurring_run_id"]
        if self.mysql and len(run["description"]) > MYSQL_VARCHAR:
            # resource_manager.go: CreateJob made the ScheduledWorkflow, then jobStore.CreateJob fails.
            self.state.hidden_schedules[run["recurring_run_id"]] = run
            raise HttpError(500, "Failed to create a recurring run: InternalServerError: Error 1406 (22001): "
                                 "Data too long for column 'Description' at row 1")
        self.state.recurring_runs[run["recurring_run_id"]] = run
        return run

    def _list_recurring_runs(self, query: dict, body: Any) -> dict:
        runs = self.state.recurring_runs
        if query.get("experiment_id"):
            runs = {i: r for i, r in runs.items() if r["experiment_id"] == query["experiment_id"]}
        # KFP's proto names this field `recurringRuns` (the only camelCase list key in v2beta1).
        return self._list("recurringRuns", runs, query)

    def delete_scheduled_workflow(self, run_id: str) -> None:
        """Test helper: delete a recurring run's ScheduledWorkflow CR behind the API's back (a
        cluster admin's kubectl delete, a failed install). The row stays listed; nothing fires."""
        self._get(self.state.recurring_runs, run_id, "recurring run")["_swf_gone"] = True

    def _set_mode(self, run_id: str, enabled: bool) -> dict:
        """resource_manager.go: ChangeJobMode (tag 2.17.0). Enable first Gets the ScheduledWorkflow;
        a missing one is util.NewInternalServerError "Failed to enable recurring run %v. Check if
        the scheduled workflow exists" (HTTP 500, gRPC Internal). Disable goes straight to the
        merge Patch, whose failure is the same 500 class ("Failed to change recurring run's %v mode
        to enable:false"). job_server.go: EnableRecurringRun/DisableRecurringRun wrap it with
        "Failed to enable/disable a recurring run"."""
        run = self._get(self.state.recurring_runs, run_id, "recurring run")
        if run.get("_swf_gone"):
            if enabled:
                raise HttpError(500, f"Failed to enable a recurring run: Failed to enable recurring run {run_id}. "
                                     "Check if the scheduled workflow exists: InternalServerError: "
                                     f"scheduledworkflow {run_id} not found")
            raise HttpError(500, f"Failed to disable a recurring run: InternalServerError: Failed to change "
                                 f"recurring run's {run_id} mode to enable:false: scheduledworkflow not found")
        run["mode"], run["status"] = ("ENABLE", "ENABLED") if enabled else ("DISABLE", "DISABLED")
        run["updated_at"] = self._now()
        return {}

    def _delete_recurring_run(self, query: dict, body: Any, run_id: str) -> dict:
        """resource_manager.go: DeleteJob deletes the ScheduledWorkflow with the request's
        propagation policy (none: the Kubernetes default, background), then the row. Kubernetes
        garbage collection then deletes every Workflow it owns (crd/util/scheduled_workflow.go:
        NewWorkflow sets the owner reference), killing runs in flight, unless ORPHAN."""
        self._get(self.state.recurring_runs, run_id, "recurring run")
        policy = query.get("propagation_policy", "")
        if policy and policy not in PROPAGATION_POLICIES and policy != "PROPAGATION_POLICY_UNSPECIFIED":
            raise HttpError(400, f"invalid value for enum field propagation_policy: {policy!r}")
        # DeleteJob skips a ScheduledWorkflow that is not found (util.IsNotFound) and deletes the row.
        for run in self.fired:
            if run.owner == run_id:
                if policy == "ORPHAN":
                    run.owner = None
                elif run.state == "RUNNING":
                    run.state = "KILLED"
                    run.finishes = self.now
        del self.state.recurring_runs[run_id]
        return {}

    def _k8s_service(self, query: dict, body: Any, namespace: str, name: str) -> dict:
        if (namespace, name) != ("kubeflow", "ml-pipeline"):
            raise HttpError(404, f'services "{name}" not found')
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                "spec": {"ports": [{"name": "http", "port": 8888, "protocol": "TCP"},
                                   {"name": "grpc", "port": 8887, "protocol": "TCP"}]}}

    def _k8s_config_map(self, query: dict, body: Any, namespace: str, name: str) -> dict:
        if (namespace, name) not in self.config_maps:
            raise HttpError(404, f'configmaps "{name}" not found')
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
                "data": self.config_maps[(namespace, name)]}

    # -- listing ----------------------------------------------------------------------------------

    def _list(self, key: str, table: dict, query: dict) -> dict:
        items = list(table.values())
        if "namespace" in query and query["namespace"] and key != "pipeline_versions":
            items = [item for item in items if item.get("namespace", "") == query["namespace"]]
        if query.get("filter"):
            predicates, allowed = _parse_filter(query["filter"]), FILTER_KEYS.get(key)
            for predicate in predicates:  # refused even when nothing would match (filter.go: NewWithKeyMap)
                if allowed is not None and predicate["key"] not in allowed:
                    raise HttpError(400, "Invalid input error: no support for filtering on unrecognized field "
                                         f"{predicate['key']!r}")
            items = [item for item in items if _matches(item, predicates, allowed)]
        items.sort(key=_sort_key(query.get("sort_by", "")))
        page_size = int(query.get("page_size") or 0)
        if page_size < 0:
            raise HttpError(400, f"The page size should be greater than 0. Got {page_size}")
        page_size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        offset = _read_token(query.get("page_token", ""), key, query)
        page = items[offset:offset + page_size]
        response: dict[str, Any] = {key: [_public(item) for item in page], "total_size": len(items)}
        if offset + page_size < len(items):
            response["next_page_token"] = _make_token(offset + page_size, key, query)
        return response


def _public(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("pipeline_spec", "platform_spec") and not k.startswith("_")}


def _epoch_of(value: Any) -> int | None:
    if not value:
        return None
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())


def _sort_key(sort_by: str) -> Callable[[dict], Any]:
    field_name = (sort_by.split() or ["created_at"])[0]
    return lambda item: (str(item.get(field_name, "")), str(item.get("created_at", "")))


def _token_scope(key: str, query: dict) -> str:
    return json.dumps([key, query.get("filter", ""), query.get("sort_by", ""), query.get("namespace", "")])


def _make_token(offset: int, key: str, query: dict) -> str:
    raw = json.dumps({"offset": offset, "scope": _token_scope(key, query)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str, key: str, query: dict) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        if decoded["scope"] != _token_scope(key, query):
            raise ValueError("token from another query")
        return int(decoded["offset"])
    except (ValueError, KeyError, TypeError):
        raise HttpError(400, f"invalid page token {token!r}") from None


def _parse_filter(text: str) -> list[dict]:
    try:
        predicates = json.loads(text).get("predicates", [])
    except (ValueError, AttributeError):
        raise HttpError(400, f"invalid filter {text!r}: not a JSON Filter") from None
    for predicate in predicates:
        operation = predicate.get("operation")
        operation = FILTER_OPERATIONS.get(operation, operation) if isinstance(operation, int) else operation
        if operation not in FILTER_OPERATIONS.values():
            raise HttpError(400, f"invalid filter operation {predicate.get('operation')!r}")
        predicate["operation"] = operation
        if not predicate.get("key"):
            raise HttpError(400, "filter predicate without key")
    return predicates


def _predicate_value(predicate: dict) -> Any:
    for key in ("string_value", "stringValue", "int_value", "intValue", "long_value", "longValue",
                "timestamp_value", "timestampValue", "bool_value", "boolValue"):
        if key in predicate:
            return predicate[key]
    for key in ("string_values", "stringValues", "int_values", "intValues"):
        if key in predicate:
            values = predicate[key]
            return values.get("values", values) if isinstance(values, dict) else values
    raise HttpError(400, f"filter predicate on {predicate.get('key')!r} has no value")


def _matches(item: dict, predicates: list[dict], allowed: dict[str, str] | None) -> bool:
    for predicate in predicates:
        key = predicate["key"]
        if allowed is not None:
            if key not in allowed:  # filter/filter.go: NewWithKeyMap
                raise HttpError(400, f"Invalid input error: no support for filtering on unrecognized field {key!r}")
            key = allowed[key]
        elif key not in item:
            raise HttpError(400, f"invalid filter key {key!r}")
        have, want, operation = item[key], _predicate_value(predicate), predicate["operation"]
        ok = {
            "EQUALS": lambda: str(have) == str(want),
            "NOT_EQUALS": lambda: str(have) != str(want),
            "IS_SUBSTRING": lambda: str(want) in str(have),
            "IN": lambda: str(have) in [str(v) for v in want],
            "GREATER_THAN": lambda: str(have) > str(want),
            "GREATER_THAN_EQUALS": lambda: str(have) >= str(want),
            "LESS_THAN": lambda: str(have) < str(want),
            "LESS_THAN_EQUALS": lambda: str(have) <= str(want),
        }[operation]()
        if not ok:
            return False
    return True


def _decode_body(headers: Any, body: bytes) -> Any:
    if not body:
        return None
    content_type = headers.get("Content-Type", "")
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.iter_parts()}
    try:
        return json.loads(body)
    except ValueError:
        raise HttpError(400, "request body is not JSON") from None


def _uploaded(body: Any) -> bytes:
    if not isinstance(body, dict) or not body.get("uploadfile"):
        raise HttpError(400, "multipart field uploadfile is required")
    return body["uploadfile"]


def _handler_for(server: FakeKfpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, response = server.handle(self.command, self.path, self.headers, body)
            data = json.dumps(_public(response) if isinstance(response, dict) else response).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (quiet server)
            return

    return Handler
