"""What `churnops serve` exposes, in one place: the routes it mounts and the largest request it accepts.

Closed by default. kserve's REST server mounts more than a predictor needs, for anyone who can reach
it: the model-repository extension (`POST /v2/repository/models/{name}/unload` stops the model for
good while the server keeps saying it is ready), `:explain`, the OpenAPI page. `mounted_routes`
decides what is served; the Gate in front of the app answers 404 for everything else, before kserve
sees the request:

- health: `/`, `/v2/health/live`, `/v2/health/ready`, the per-model ready routes of v1 and v2;
- inference: v1 `:predict`, v2 `/infer` (with and without a version in the path);
- protocol metadata: `GET /v1/models`, `/v2`, `/v2/models`, `/v2/models/{name}` (read-only, what
  Open Inference Protocol clients ask for before they infer);
- metrics: `GET /metrics`;
- events: `POST /churnops/v1/events` (churnops.serving.governance): a hint that an alias moved. Its body
  is never trusted: the predictor re-reads the alias from the registry and vets the version there
  (an MLflow webhook's signature is checked when CHURNOPS_WEBHOOK_SECRET is set); the most anyone who
  reaches it can cause is a registry read;
- only with `--enable-model-repository`: kserve's load/unload; only with `--enable-docs`: /docs,
  /openapi.json.

Size: a request body above `max_body_bytes` is answered 413 before it is read (Content-Length) or
as soon as the bytes received pass the limit (chunked); its default comes from the replica's memory
(`default_max_body_bytes`): one 127 MB request took a replica from 381 to 2,013 MiB (about 12 MiB
per MB of JSON), above the container's 1536Mi limit. `install` puts both on the app. A request with more than `max_rows` rows is a
413 too (churnops.serving.predictor checks it before building a table).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass

from starlette.exceptions import HTTPException

from churnops import defaults

HEALTH = frozenset({
    ("GET", "/"), ("GET", "/v2/health/live"), ("GET", "/v2/health/ready"), ("GET", "/v1/models/{model_name}"),
    ("GET", "/v2/models/{model_name}/ready"), ("GET", "/v2/models/{model_name}/versions/{model_version}/ready"),
})
INFERENCE = frozenset({
    ("POST", "/v1/models/{model_name}:predict"), ("POST", "/v2/models/{model_name}/infer"),
    ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"),
})
METADATA = frozenset({
    ("GET", "/v1/models"), ("GET", "/v2"), ("GET", "/v2/models"), ("GET", "/v2/models/{model_name}"),
    ("GET", "/v2/models/{model_name}/versions/{model_version}"),
})
METRICS = frozenset({("GET", "/metrics")})
EVENTS_PATH = "/churnops/v1/events"
EVENTS = frozenset({("POST", EVENTS_PATH)})
MODEL_REPOSITORY = frozenset({
    ("POST", "/v2/repository/models/{model_name}/load"), ("POST", "/v2/repository/models/{model_name}/unload"),
})
DOCS = frozenset({("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/openapi.json")})

CGROUP_V2_MEMORY = "/sys/fs/cgroup/memory.max"
CGROUP_V1_MEMORY = "/sys/fs/cgroup/memory/memory.limit_in_bytes"


@dataclass(frozen=True)
class Exposure:
    """The server's surface: limits, and the two groups of routes that are off unless asked for."""

    max_body_bytes: int
    max_rows: int = defaults.SERVE_MAX_ROWS
    model_repository: bool = False
    docs: bool = False

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError(f"--max-body-bytes must be >= 1, got {self.max_body_bytes}.")
        if self.max_rows < 1:
            raise ValueError(f"--max-rows must be >= 1, got {self.max_rows}.")


def mounted_routes(exposure: Exposure) -> frozenset[tuple[str, str]]:
    """(method, path template) of every route the server keeps."""
    routes = HEALTH | INFERENCE | METADATA | METRICS | EVENTS
    if exposure.model_repository:
        routes |= MODEL_REPOSITORY
    if exposure.docs:
        routes |= DOCS
    return routes


class Gate:
    """ASGI middleware in front of kserve's app, before anything reads the body.

    - a route outside `allowed` is a 404 (matched on method and path with Starlette's own path
      templates, `{name}` being one path segment, so it does not depend on how the framework stores
      its routes; HEAD follows GET);
    - a declared Content-Length above `max_body_bytes` is a 413 naming the limit. A body without a
      length (chunked) is counted as it arrives by Starlette's RequestBodyLimitMiddleware behind
      this one, whose 413 too_large_handler words the same way;
    - before any 413 whose body is not all read, the rest is read and dropped, up to LINGER_BYTES
      in LINGER_SECONDS. (Go's net/http, go1.26.8 server.go, reads up to 256 KiB of an unread body
      and half-closes with a 500 ms wait, `maxPostHandlerReadBytes`, `closeWriteAndWait`; uvicorn
      0.54.0 does neither: both its protocols close the transport as soon as a `connection: close`
      answer is sent.) A close with bytes unread is a TCP reset,
      which can overtake the 413: a client that sends its whole body before it reads (Python's
      http.client, requests) saw "Broken pipe" instead of the answer. A client that sent
      `Expect: 100-continue` (curl above 1 MB) has not sent the body: nothing is read for it.
    """

    def __init__(self, app, allowed: frozenset[tuple[str, str]], max_body_bytes: int) -> None:
        from starlette.routing import compile_path

        self.app = app
        self.allowed = [(method, compile_path(path)[0]) for method, path in sorted(allowed)]
        self.max_body_bytes = max_body_bytes

    def admits(self, method: str, path: str) -> bool:
        method = "GET" if method == "HEAD" else method
        return any(allowed == method and pattern.fullmatch(path) for allowed, pattern in self.allowed)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.admits(scope["method"], scope["path"]):
            await _answer(send, 404, f"{scope['method']} {scope['path']} is not served here.")
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        body = Body(receive, expects_continue=headers.get(b"expect", b"").lower() == b"100-continue",
                    declared=int(length) if length.isdigit() else None)

        async def send_after_linger(message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 413:
                await body.linger()
            await send(message)

        if body.declared is not None and body.declared > self.max_body_bytes:
            await _answer(send_after_linger, 413, body_too_large(self.max_body_bytes), close=True)
            return
        await self.app(scope, body.receive, send_after_linger)


LINGER_BYTES = 8 << 20
LINGER_SECONDS = 5.0


class Body:
    """A request's ASGI receive that knows whether the whole body has been read."""

    def __init__(self, receive, expects_continue: bool, declared: int | None) -> None:
        self._receive = receive
        self.declared = declared  # Content-Length
        # nothing was sent yet: reading would ask for it (100 Continue); a body longer than the linger
        # reads would end in a reset all the same
        self.done = expects_continue or (declared or 0) > LINGER_BYTES
        self.read = 0

    async def receive(self):
        message = await self._receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self.done = True
        self.read += len(message.get("body", b""))
        return message

    async def linger(self) -> None:
        """Read and drop what is left of the body, up to LINGER_BYTES in LINGER_SECONDS."""

        async def drain() -> None:
            while not self.done and self.read <= LINGER_BYTES:
                await self.receive()

        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(drain(), LINGER_SECONDS)


async def _answer(send, status: int, message: str, close: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + ([(b"connection", b"close")] if close else [])})
    await send({"type": "http.response.body", "body": body})


def replica_memory_bytes() -> int:
    """The memory this process may use: the cgroup's limit (a pod's), else the machine's."""
    for path in (CGROUP_V2_MEMORY, CGROUP_V1_MEMORY):
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (1 << 60):  # cgroup v1 writes ~2**63 for "no limit"
            return int(text)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_max_body_bytes(memory_bytes: int | None = None) -> int:
    """memory / SERVE_BODY_MEMORY_DIVISOR, within [1 MiB, SERVE_MAX_BODY_BYTES_CAP]."""
    memory = replica_memory_bytes() if memory_bytes is None else memory_bytes
    return max(1 << 20, min(defaults.SERVE_MAX_BODY_BYTES_CAP, memory // defaults.SERVE_BODY_MEMORY_DIVISOR))


def too_large_message(what: str, limit: int, flag: str) -> str:
    return (f"The request is too large: {what}, more than this server accepts ({limit}; {flag}). "
            "Send fewer rows per request, or score large batches with `churnops predict`.")


class RequestTooLarge(HTTPException):
    """A request over the row limit: a 413 whose message says which limit and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=413, detail=message)


def body_too_large(max_body_bytes: int) -> str:
    return too_large_message(f"a body above {max_body_bytes} bytes", max_body_bytes, "--max-body-bytes")


def too_large_handler(max_body_bytes: int):
    """The app's handler for every 413 raised inside it: a row limit (RequestTooLarge) or Starlette's body limit."""
    from fastapi.responses import JSONResponse

    async def handler(_request, exc):
        message = exc.detail if isinstance(exc, RequestTooLarge) else body_too_large(max_body_bytes)
        return JSONResponse(status_code=413, content={"error": message}, headers={"connection": "close"})

    return handler


def install(app, exposure: Exposure) -> None:
    """Apply the Exposure to a Starlette/FastAPI app before it serves: the gate outermost, then the body count."""
    from starlette.middleware.body_limit import RequestBodyLimitMiddleware

    app.add_exception_handler(413, too_large_handler(exposure.max_body_bytes))
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=exposure.max_body_bytes)
    app.add_middleware(Gate, allowed=mounted_routes(exposure), max_body_bytes=exposure.max_body_bytes)  # runs first
