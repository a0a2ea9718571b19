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
    """churnops.serving's swaps, load failures and failed polls on stderr, beside kserve's own lines."""
    log = logging.getLogger("churnops.serving")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d churnops.serving %(levelname)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def model_name(model_uri: str) -> str:
    match = MODELS_URI.match(model_uri)
    if not match:
        raise ServingError(f"--model-uri must be models:/NAME@ALIAS or models:/NAME/VERSION, got {model_uri!r} "
                           "(e.g. models:/churn-classifier@champion).")
    return match.group("name")


def run(model_uri: str, tracking_uri: str, *, host: str = defaults.SERVE_HOST, port: int = defaults.SERVE_PORT,
        poll_seconds: float = defaults.SERVE_POLL_SECONDS,
        start_wait_seconds: float = defaults.SERVE_START_WAIT_SECONDS) -> None:
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
    from kserve.model_server import FASTAPI_APP_IMPORT_STRING, ModelServer
    from kserve.protocol.rest.server import RESTServer

    from churnops.serving import governance
    from churnops.serving.predictor import ChurnPredictor, record_event

    configure_logging()
    governance.register_metrics(name)
    follower = Follower(model_uri, tracking_uri, poll_seconds, on_event=record_event, vet=governance.Vet())
    follower.start_serving(start_wait_seconds)
    model = ChurnPredictor(name, follower)
    server = ModelServer(http_port=port, enable_grpc=False, workers=1, enable_latency_logging=False)
    server.register_model(model)
    rest = RESTServer(FASTAPI_APP_IMPORT_STRING, server.dataplane, server.model_repository_extension, port,
                      workers=1, grace_period=10)
    rest.config.host = host
    from kserve.model_server import app

    governance.mount(app, follower, name)  # POST /churnops/v1/events: an alias moved, resolve now (issue 27)
    follower.start_polling()
    logging.getLogger("churnops.serving").info("listening on http://%s:%d (model %s)", host, port, name)
    try:
        asyncio.run(rest.start())
    finally:
        follower.stop()
