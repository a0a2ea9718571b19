"""HTTP receivers on loopback for the events tests: one that records, one that is slow, one that fails
first, and the address of one that is down (a port nothing listens on). Real sockets, real HTTP."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 that records every POST (path, headers, body)."""

    delay: float = 0.0  # seconds before answering (a slow sink)
    failures: int = 0  # answer 503 this many times first (a sink that recovers)
    status: int = 202
    received: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(owner.delay)
                failing = owner.failures > 0
                owner.failures -= 1 if failing else 0
                owner.received.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                       "answered": 503 if failing else owner.status})
                self.send_response(503 if failing else owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def down_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago): connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/events"
