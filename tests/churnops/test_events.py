"""Events out (churnops.events) against real HTTP receivers on loopback: one that works, one that is
down, one that is slow, one that fails before it recovers; CloudEvents parsed back with the SDK."""

from __future__ import annotations

import json
import time

import pytest
from cloudevents.http import from_http
from support.receivers import Receiver, down_url

from churnops import events


@pytest.fixture
def receivers():
    opened: list[Receiver] = []

    def open_(**options) -> Receiver:
        opened.append(Receiver(**options))
        return opened[-1]

    yield open_
    for receiver in opened:
        receiver.close()


def publisher(urls: list[str], tmp_path, **options) -> events.Publisher:
    options = {"attempts": 3, "timeout": 1.0, "backoff": 0.05, **options}
    return events.Publisher(events.parse_sinks(",".join(urls)), dead_letter=tmp_path / "dead.jsonl", log=open(
        tmp_path / "log.txt", "a"), **options)


def event(kind=events.GATE_DECIDED):
    return events.make_event(kind, "churn-classifier/v2", {"model_name": "churn-classifier", "version": "2",
                                                          "summary": "passed (promote)"}, "gate")


def test_a_working_sink_gets_a_structured_cloudevent(receivers, tmp_path):
    sink = receivers()
    sent = event()
    deliveries = publisher([sink.url], tmp_path).publish(sent)
    deliveries[0].done.wait(5)
    assert deliveries[0].state == "delivered"
    got = sink.received[0]
    assert {k.lower(): v for k, v in got["headers"].items()}["content-type"] == "application/cloudevents+json"
    parsed = from_http(got["headers"], got["body"])  # the SDK reads back what we sent
    assert (parsed["type"], parsed["source"], parsed["subject"]) == ("io.churnops.gate.decided", "urn:churnops:gate",
                                                                    "churn-classifier/v2")
    assert parsed["id"] == sent["id"] and parsed.get_data()["version"] == "2"


def test_a_down_sink_is_dead_lettered_and_never_blocks_the_others(receivers, tmp_path):
    good, bad = receivers(), down_url()
    sender = publisher([bad, good.url], tmp_path)
    started = time.monotonic()
    sender.publish(event())
    assert time.monotonic() - started < 0.5  # publishing returns at once: delivery is in the background
    states = {d.sink.url: d.state for d in sender.flush(deadline=10)}
    assert states == {bad: "dead-letter", good.url: "delivered"}
    letters = events.read_dead_letters(tmp_path / "dead.jsonl")
    assert len(letters) == 1 and letters[0]["event"]["type"] == "io.churnops.gate.decided"
    assert "ConnectionError after 3 attempt(s)" in letters[0]["reason"]


def test_a_slow_sink_costs_at_most_the_deadline_then_is_dead_lettered(receivers, tmp_path):
    slow, fast = receivers(delay=3.0), receivers()
    sender = publisher([slow.url, fast.url], tmp_path, attempts=1, timeout=5.0)
    sender.publish(event())
    started = time.monotonic()
    states = {d.sink.url: d.state for d in sender.flush(deadline=1.0)}
    assert time.monotonic() - started < 1.6  # the caller waited for the deadline, not for the slow sink
    assert states == {slow.url: "dead-letter", fast.url: "delivered"}
    assert "gave up after the 1 s deadline" in events.read_dead_letters(tmp_path / "dead.jsonl")[0]["reason"]


def test_a_sink_that_fails_first_gets_it_on_a_later_attempt_with_backoff(receivers, tmp_path):
    flaky = receivers(failures=2)
    sender = publisher([flaky.url], tmp_path, attempts=4, backoff=0.1)
    started = time.monotonic()
    [delivery] = sender.publish(event())
    delivery.done.wait(5)
    assert delivery.state == "delivered" and delivery.attempts == 3
    assert [r["answered"] for r in flaky.received] == [503, 503, 202]
    assert time.monotonic() - started >= 0.1 + 0.2  # waited 0.1 s, then 0.2 s between the tries


def test_a_refusing_sink_is_not_retried(receivers, tmp_path):
    refusing = receivers(status=400)
    [delivery] = publisher([refusing.url], tmp_path, attempts=4).publish(event())
    delivery.done.wait(5)
    assert delivery.state == "dead-letter" and len(refusing.received) == 1


def test_a_chat_sink_gets_one_line_of_text(receivers, tmp_path):
    chat = receivers()
    [delivery] = publisher([f"chat+{chat.url}"], tmp_path).publish(event())
    delivery.done.wait(5)
    body = json.loads(chat.received[0]["body"])
    assert body == {"text": "[churnops] gate.decided churn-classifier/v2: passed (promote)"}


def test_a_token_in_a_sink_url_is_never_logged_or_dead_lettered(tmp_path):
    secret_url = down_url().replace("/events", "/hooks/T000/B000/s3cr3t-token")
    sender = publisher([f"chat+{secret_url}"], tmp_path, attempts=1)
    sender.publish(event())
    sender.flush(deadline=5)
    written = (tmp_path / "dead.jsonl").read_text() + (tmp_path / "log.txt").read_text()
    assert "s3cr3t-token" not in written and "dead-letter" in written


def test_replay_sends_the_dead_letters_to_the_sink_once_it_is_up(receivers, tmp_path):
    receiver = receivers()
    receiver.close()  # down first
    sender = publisher([receiver.url], tmp_path, attempts=1)
    sender.publish(event())
    sender.flush(deadline=5)
    assert len(events.read_dead_letters(tmp_path / "dead.jsonl")) == 1
    up = Receiver()  # the same sink back: another port, so the config names the new URL ...
    try:
        # ... and the dead letter names its sink by a digest of the URL: point it at the new one.
        lines = [dict(r, sink=events.parse_sinks(up.url)[0].key) for r in events.read_dead_letters(tmp_path / "dead.jsonl")]
        (tmp_path / "dead.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        result = events.replay(tmp_path / "dead.jsonl", events.parse_sinks(up.url), deadline=5)
        assert result == {"replayed": 1, "delivered": 1, "kept": 0}
        assert json.loads(up.received[0]["body"])["type"] == "io.churnops.gate.decided"
        assert events.read_dead_letters(tmp_path / "dead.jsonl") == []
    finally:
        up.close()


@pytest.mark.parametrize("value, message", [
    ("ftp://example.org/x", "sink 1 (ftp://example.org/...) is not an http(s) URL"),
    ("http://ok.example/, not-a-url", "sink 2 (entry without a scheme) is not an http(s) URL"),
])
def test_a_bad_sink_list_is_refused_naming_the_entry(value, message):
    with pytest.raises(events.EventConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        events.configured_sinks({events.ENV_SINKS: value})


def test_emit_without_sinks_sends_nothing_and_never_raises(monkeypatch):
    monkeypatch.delenv(events.ENV_SINKS, raising=False)
    events.reset()
    events.emit(events.GATE_DECIDED, "m/v1", {"summary": "x"})
    assert events.publisher().deliveries == []
    events.reset()
