"""Start the KServe model server for one followed model URI, bound to the host the caller asks for.

kserve.ModelServer.start always binds 0.0.0.0 (kserve 0.21.0 kserve/protocol/rest/server.py,
RESTServer.__init__ passes host="0.0.0.0" to uvicorn.Config) and starts a gRPC server on [::].
`churnops serve` must bind 127.0.0.1 by default, so `run` builds the same RESTServer that
ModelServer.start builds for one worker and sets the uvicorn config's host before serving.
Relied on: RESTServer(app, dataplane, model_repository_extension, http_port).config is the
uvicorn.Config its server runs with. If a kserve upgrade changes that, the host assertion in
tests/churnops/serving/test_serve_process.py fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os

from churnops import defaults
from churnops.registry import tracking
from churnops.registry.loading import MODELS_URI
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
        start_wait_seconds: float = defaults.SERVE_START_WAIT_SECONDS, access_log: bool = False) -> None:
    name = model_name(model_uri)
    if not 0 < port < 65536:
        raise ServingError(f"--port must be 1-65535, got {port}.")
    configure_mlflow_client()
    if tracking_uri.startswith("sqlite:///"):
        tracking.connect(tracking_uri)  # the embedded store: created/upgraded like every other command
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    # kserve parses sys.argv when kserve.model_server is imported (parse_known_args): our flags do not
    # collide with its --http_port/--model_name/... spellings.
    from kserve.errors import InvalidInput, ModelNotFound
    from kserve.model_server import FASTAPI_APP_IMPORT_STRING, ModelServer
    from kserve.protocol.rest.server import RESTServer

    from churnops.serving.predictor import ChurnPredictor, record_event, register_metrics

    configure_logging()
    register_metrics(name)
    follower = Follower(model_uri, tracking_uri, poll_seconds, on_event=record_event)
    follower.start_serving(start_wait_seconds)
    model = ChurnPredictor(name, follower)
    server = ModelServer(http_port=port, enable_grpc=False, workers=1, enable_latency_logging=False)
    production_logs(access_log)  # after ModelServer(): it applied kserve's logging config
    server.register_model(model)

    class ChurnRESTServer(RESTServer):
        def _add_exception_handlers(self, app):
            super()._add_exception_handlers(app)
            for error in (InvalidInput, ModelNotFound):  # replaces kserve's: one line, the online fix
                app.add_exception_handler(error, client_error)

    rest = ChurnRESTServer(FASTAPI_APP_IMPORT_STRING, server.dataplane, server.model_repository_extension, port,
                           workers=1, grace_period=10)
    rest.config.host = host
    follower.start_polling()
    logging.getLogger("churnops.serving").info("listening on http://%s:%d (model %s)", host, port, name)
    try:
        asyncio.run(rest.start())
    finally:
        follower.stop()
