"""Start the KServe model server for one followed model URI, bound to the host the caller asks for.

kserve.ModelServer.start always binds 0.0.0.0 (kserve 0.21.0 kserve/protocol/rest/server.py,
RESTServer.__init__ passes host="0.0.0.0" to uvicorn.Config) and starts a gRPC server on [::].
`churnops serve` must bind 127.0.0.1 by default, so `run` builds the same RESTServer that
ModelServer.start builds for one worker and sets the uvicorn config's host before serving.
Relied on: RESTServer(app, dataplane, model_repository_extension, http_port).config is the
uvicorn.Config its server runs with. If a kserve upgrade changes that, the host assertion in
tests/churnops/serving/test_serve_process.py fails.

What the server mounts and how large a request it takes is decided in churnops.serving.exposure; `run`
installs it on kserve's app in RESTServer.create_application's middleware hook (kserve 0.21:
_add_middlewares, called before the routes and handlers are added and before the app serves): a route
gate answers 404 for every route the Exposure does not name, so a route a kserve upgrade adds stays
closed until it is named there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os

from churnops import defaults
from churnops.registry import tracking
from churnops.registry.loading import MODELS_URI
from churnops.serving.exposure import Exposure, default_max_body_bytes, install
from churnops.serving.follower import Follower, ServingError


def configure_mlflow_client() -> None:
    # MLflow's REST client retries a refused connection for minutes by default; the follower has
    # its own bounded waits and keeps serving while MLflow is down, so each call fails fast.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    os.environ.setdefault(tracking.PROXY_DOWNLOAD_ENV, "false")  # artifacts through the server, never the bucket


def configure_logging() -> None:
    """churnops.serving's swaps, load failures, failed polls and client errors on stderr, beside kserve's own lines."""
    log = logging.getLogger("churnops.serving")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d churnops.serving %(levelname)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def readiness(dataplane, name: str, follower: Follower):
    """`/v2/health/ready`: true only while the model is registered, ready, and a version is loaded.

    kserve 0.21's server readiness (DataPlane.ready) is true whatever the models do, so an unloaded
    model kept its replica in rotation; V2Endpoints.ready awaits `dataplane.ready()`, which this replaces
    on the one DataPlane instance (tests/churnops/serving/test_exposure_process.py checks it)."""

    async def ready() -> bool:
        model = dataplane.model_registry.get_model(name)
        return bool(model is not None and model.ready and follower.served is not None)

    return ready


def exposed_server_class():
    """kserve's RESTServer with an Exposure installed on its app (imported with kserve, after argv is parsed)."""
    from kserve.protocol.rest.server import RESTServer

    class ExposedRESTServer(RESTServer):
        def __init__(self, exposed: Exposure, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.exposed = exposed

        def _add_middlewares(self, app) -> None:
            super()._add_middlewares(app)
            install(app, self.exposed)

        def _add_exception_handlers(self, app) -> None:
            from kserve.errors import InvalidInput, ModelNotFound

            super()._add_exception_handlers(app)
            for error in (InvalidInput, ModelNotFound):  # replaces kserve's: one line, the online fix
                app.add_exception_handler(error, client_error)

    return ExposedRESTServer
def production_logs(access_log: bool = False) -> None:
    """Per request at most one line: JSON, and only with `access_log`; a client error is one WARNING line
    (client_error). Called after kserve.ModelServer() applied kserve's logging config (kserve 0.21.0
    kserve/logging.py KSERVE_LOG_CONFIG): its `kserve.trace` logger writes two timing lines per request
    (PrintTimings in kserve/protocol/rest/server.py) - raised to WARNING here -, and `uvicorn.access`
    one plain line per request - off, or JSON. FastAPI warns on every v1 answer that kserve's
    ORJSONResponse is deprecated: not the operator's to act on, ignored."""
    import warnings

    from fastapi.exceptions import FastAPIDeprecationWarning

    logging.getLogger("kserve.trace").setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.disabled = not access_log
    if access_log:
        handler = logging.StreamHandler()
        handler.setFormatter(AccessJson())
        access.handlers = [handler]
    warnings.filterwarnings("ignore", category=FastAPIDeprecationWarning)


class AccessJson(logging.Formatter):
    """One JSON object per request from uvicorn's access record (args: client, method, path, HTTP version, status)."""

    def format(self, record: logging.LogRecord) -> str:
        from urllib.parse import unquote

        client, method, path, _, status = record.args
        return json.dumps({"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "method": method,
                           "path": unquote(path), "status": status, "client": client})


V2_BINARY_HINT = ('Send the v2 request as JSON with the header "Content-Type: application/json": '
                  '{"inputs": [{"name": COLUMN, "shape": [ROWS], "datatype": "BYTES", "data": [...]}, ...]} '
                  "(binary tensor data is not supported).")


async def client_error(request, exc):
    """A client's mistake (kserve.errors.InvalidInput 400, ModelNotFound 404): the answer says what to
    send, and the log gets one WARNING line - kserve's own handlers log an ERROR with a traceback."""
    from fastapi.responses import JSONResponse
    from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER
    from kserve.errors import ModelNotFound

    status = 404 if isinstance(exc, ModelNotFound) else 400
    message = V2_BINARY_HINT if INFERENCE_CONTENT_LENGTH_HEADER in str(exc) else str(exc)
    logging.getLogger("churnops.serving").warning("%d %s %s: %s", status, request.method, request.url.path,
                                                  message[:500])
    return JSONResponse(status_code=status, content={"error": message})


def model_name(model_uri: str) -> str:
    match = MODELS_URI.match(model_uri)
    if not match:
        raise ServingError(f"--model-uri must be models:/NAME@ALIAS or models:/NAME/VERSION, got {model_uri!r} "
                           "(e.g. models:/churn-classifier@champion).")
    return match.group("name")


def run(model_uri: str, tracking_uri: str, *, host: str = defaults.SERVE_HOST, port: int = defaults.SERVE_PORT,
        poll_seconds: float = defaults.SERVE_POLL_SECONDS,
        start_wait_seconds: float = defaults.SERVE_START_WAIT_SECONDS, exposure: Exposure | None = None,
        access_log: bool = False) -> None:
    name = model_name(model_uri)
    if not 0 < port < 65536:
        raise ServingError(f"--port must be 1-65535, got {port}.")
    exposure = exposure or Exposure(default_max_body_bytes())
    configure_mlflow_client()
    if tracking_uri.startswith("sqlite:///"):
        tracking.connect(tracking_uri)  # the embedded store: created/upgraded like every other command
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    # kserve parses sys.argv when kserve.model_server is imported (parse_known_args): our flags do not
    # collide with its --http_port/--model_name/... spellings.
    from kserve.model_server import FASTAPI_APP_IMPORT_STRING, ModelServer

    ExposedRESTServer = exposed_server_class()  # noqa: N806 (a class)

    from churnops.serving import governance
    from churnops.serving.predictor import ChurnPredictor, record_event, register_metrics

    configure_logging()
    register_metrics(name)
    governance.register_metrics(name)
    follower = Follower(model_uri, tracking_uri, poll_seconds, on_event=record_event, vet=governance.Vet())
    follower.start_serving(start_wait_seconds)
    model = ChurnPredictor(name, follower, max_rows=exposure.max_rows)
    server = ModelServer(http_port=port, enable_grpc=False, workers=1, enable_latency_logging=False)
    production_logs(access_log)  # after ModelServer(): it applied kserve's logging config
    server.register_model(model)
    server.dataplane.ready = readiness(server.dataplane, name, follower)
    rest = ExposedRESTServer(exposure, FASTAPI_APP_IMPORT_STRING, server.dataplane, server.model_repository_extension,
                             port, workers=1, grace_period=10)
    rest.config.host = host
    from kserve.model_server import app

    governance.mount(app, follower, name)  # POST /churnops/v1/events: an alias moved, resolve now (issue 27)
    follower.start_polling()
    logging.getLogger("churnops.serving").info(
        "listening on http://%s:%d (model %s; body <= %d bytes, <= %d rows per request%s%s)", host, port, name,
        exposure.max_body_bytes, exposure.max_rows, "; model repository ON" if exposure.model_repository else "",
        "; docs ON" if exposure.docs else "")
    try:
        asyncio.run(rest.start())
    finally:
        follower.stop()
