"""What `churnops serve` exposes (churnops.serving.exposure), without a server: routes, limits, the gate.

The same rules on a real `churnops serve` process: tests/churnops/serving/test_serve_process.py.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from churnops import defaults
from churnops.serving import exposure
from churnops.serving.exposure import Exposure, Gate

NAME = "churn-classifier"
SERVED = [("GET", "/v2/health/ready"), ("GET", "/v2/health/live"), ("GET", "/"), ("GET", f"/v1/models/{NAME}"),
          ("POST", f"/v1/models/{NAME}:predict"), ("POST", f"/v2/models/{NAME}/infer"), ("GET", "/metrics"),
          ("HEAD", "/v2/health/ready"), ("GET", f"/v2/models/{NAME}")]
REPOSITORY = [("POST", f"/v2/repository/models/{NAME}/unload"), ("POST", f"/v2/repository/models/{NAME}/load")]
DOCS = [("GET", "/docs"), ("GET", "/openapi.json")]
NEVER = [("POST", f"/v1/models/{NAME}:explain"), ("DELETE", "/v2/health/ready"), ("GET", "/v2/health/ready/x"),
         ("POST", f"/v2/models/{NAME}/a/infer"), ("GET", "/openai/v1/models")]


def gate(**flags) -> Gate:
    exposed = Exposure(1 << 20, **flags)
    return Gate(None, exposure.mounted_routes(exposed), exposed.max_body_bytes)


@pytest.mark.parametrize(("flags", "open_", "closed"), [
    ({}, SERVED, REPOSITORY + DOCS + NEVER),
    ({"model_repository": True}, SERVED + REPOSITORY, DOCS + NEVER),
    ({"docs": True}, SERVED + DOCS, REPOSITORY + NEVER),
], ids=["default", "model-repository", "docs"])
def test_only_the_named_routes_pass_the_gate(flags, open_, closed):
    checked = gate(**flags)
    assert [route for route in open_ if not checked.admits(*route)] == []
    assert [route for route in closed if checked.admits(*route)] == []


def answer(checked: Gate, method: str, path: str, headers=(), chunks=()) -> tuple[int, bytes, bool, list[str]]:
    """(status, body, whether the app was reached, what happened in order: `read N` / `answer`)."""
    sent, reached, events = [], [], []
    waiting = [{"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
               for index, chunk in enumerate(chunks)]

    async def app(scope, receive, send):
        reached.append(scope["path"])

    async def receive():
        message = waiting.pop(0)
        events.append(f"read {len(message['body'])}")
        return message

    async def send(message):
        if message["type"] == "http.response.start":
            events.append("answer")
        sent.append(message)

    checked.app = app
    asyncio.run(checked({"type": "http", "method": method, "path": path, "headers": list(headers)}, receive, send))
    status = sent[0]["status"] if sent else 0
    return status, sent[1]["body"] if sent else b"", bool(reached), events


def test_the_gate_answers_a_declared_oversize_body_before_the_app_sees_it():
    checked = gate()
    assert answer(checked, "POST", f"/v2/repository/models/{NAME}/unload")[:3:2] == (404, False)
    status, body, reached, _ = answer(checked, "POST", f"/v1/models/{NAME}:predict",
                                      [(b"content-length", b"2000000")], [b"x" * 1_000_000] * 2)
    assert (status, reached) == (413, False)
    assert b"--max-body-bytes" in body and b"churnops predict" in body
    assert answer(checked, "POST", f"/v1/models/{NAME}:predict", [(b"content-length", b"1000")], [b"x" * 1000])[2]


@pytest.mark.parametrize(("headers", "read"), [
    ([(b"content-length", b"3000000")], ["read 1000000"] * 3),  # sent whole before the answer is read: dropped
    ([(b"content-length", b"3000000"), (b"expect", b"100-continue")], []),  # not sent: reading would ask for it
    ([(b"content-length", str(exposure.LINGER_BYTES + 1).encode())], []),  # too long to wait for: a reset anyway
], ids=["sent", "expect-100-continue", "above-linger"])
def test_the_rest_of_an_oversize_body_is_dropped_before_the_413_and_the_close(headers, read):
    """uvicorn closes after a `connection: close` answer; bytes unread make the close a reset that can
    overtake the 413 (seen: Broken pipe in Python's http.client under load)."""
    status, _, _, events = answer(gate(), "POST", f"/v1/models/{NAME}:predict", headers, [b"x" * 1_000_000] * 3)
    assert status == 413 and events == [*read, "answer"]


@pytest.mark.parametrize(("memory", "expected"), [
    (1536 << 20, 48 << 20),  # the bundle's replica: 1536Mi / 32
    (8 << 30, defaults.SERVE_MAX_BODY_BYTES_CAP),  # a large machine: the cap
    (16 << 20, 1 << 20),  # tiny: never below 1 MiB
])
def test_the_default_body_limit_follows_the_replicas_memory(memory, expected):
    assert exposure.default_max_body_bytes(memory) == expected


@pytest.mark.parametrize(("v2", "v1", "expected"), [
    ("1610612736\n", None, 1610612736),
    ("max\n", "9223372036854771712\n", None),  # no limit anywhere: the machine's memory
    (None, "805306368\n", 805306368),
])
def test_the_replicas_memory_is_its_cgroup_limit(tmp_path, monkeypatch, v2, v1, expected):
    for name, text in (("CGROUP_V2_MEMORY", v2), ("CGROUP_V1_MEMORY", v1)):
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        monkeypatch.setattr(exposure, name, str(path))
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert exposure.replica_memory_bytes() == (machine if expected is None else expected)


@pytest.mark.parametrize("fields", [{"max_body_bytes": 0}, {"max_body_bytes": 10, "max_rows": 0}])
def test_a_limit_below_one_is_refused_naming_the_flag(fields):
    with pytest.raises(ValueError, match="--max-"):
        Exposure(**fields)
