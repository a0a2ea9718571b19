"""The bounded wait for a tracking server: recovers when the server comes up, fails clearly when not."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from churnops.errors import TrackingError
from churnops.registry import tracking


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, format, *args):  # noqa: A002
        pass


def reserved_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    return sock


def test_waits_for_a_server_that_starts_late():
    sock = reserved_port()
    port = sock.getsockname()[1]
    servers = []

    def start_later():
        time.sleep(1.2)
        sock.close()
        servers.append(http.server.ThreadingHTTPServer(("127.0.0.1", port), Health))
        servers[0].serve_forever()

    thread = threading.Thread(target=start_later, daemon=True)
    thread.start()
    started = time.monotonic()
    tracking.wait_for_server(f"http://127.0.0.1:{port}", timeout=20)
    assert 1.0 < time.monotonic() - started < 10
    servers[0].shutdown()


def test_gives_up_after_the_bound_naming_the_uri_and_the_fix(capsys):
    with reserved_port() as sock:
        uri = f"http://127.0.0.1:{sock.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(TrackingError) as error:
            tracking.wait_for_server(uri, timeout=1.5)
        elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 5
    message = str(error.value)
    assert message.startswith(f"MLflow tracking server {uri} did not answer /health after ")
    assert "--tracking-uri" in message and tracking.WAIT_ENV in message
    assert f"{uri} is not answering" in capsys.readouterr().err  # said once while it retries


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", tracking.DEFAULT_WAIT_SECONDS), ("5", 5.0), ("0", 0.0), ("-3", 0.0)],
)
def test_wait_seconds_from_the_environment(value, expected):
    assert tracking.wait_seconds({tracking.WAIT_ENV: value}) == expected


def test_wait_seconds_must_be_a_number():
    with pytest.raises(TrackingError, match=r"CHURNOPS_TRACKING_WAIT_SECONDS must be a number of seconds, got 'soon'"):
        tracking.wait_seconds({tracking.WAIT_ENV: "soon"})


def test_non_http_stores_are_not_probed():
    tracking.wait_for_server("sqlite:////nonexistent/mlflow.db", timeout=0)


def test_experiments_open_in_mlflows_model_training_view_with_a_description(tracking_uri):
    import mlflow as _mlflow

    from churnops import names
    from churnops.registry.tracking import ensure_experiment

    client = _mlflow.MlflowClient(tracking_uri=tracking_uri)
    created = client.get_experiment(ensure_experiment(tracking_uri, "fresh"))
    assert created.tags[names.EXPERIMENT_TAG_KIND] == "custom_model_development"
    assert created.tags[names.EXPERIMENT_TAG_DESCRIPTION].startswith("churnops:")
    # One made before the tags existed gets them; a description a user wrote stays.
    old = client.create_experiment("old", tags={names.EXPERIMENT_TAG_DESCRIPTION: "mine"})
    assert ensure_experiment(tracking_uri, "old") == old
    tags = client.get_experiment(old).tags
    assert tags[names.EXPERIMENT_TAG_KIND] == "custom_model_development" and tags[names.EXPERIMENT_TAG_DESCRIPTION] == "mine"
