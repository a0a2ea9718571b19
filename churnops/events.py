"""Events out: what churnops decided, as CloudEvents (structured JSON over HTTP), to the sinks a config lists.

Sinks: `CHURNOPS_EVENT_SINKS`, comma-separated URLs, read when an event is first sent (the platform
config maps it from a Secret or ConfigMap into every step: `secrets_as_env`). A URL is sent
CloudEvents 1.0 in structured mode (`Content-Type: application/cloudevents+json`, built with the
CloudEvents SDK, `cloudevents.conversion.to_structured`); a URL written `chat+https://...` gets
a one-line message `{"text": "..."}` instead, the body of a Slack-style incoming webhook.

Delivery never blocks or fails the decision it announces: the decision is written first, each
sink is tried in its own daemon thread (EVENT_ATTEMPTS tries, EVENT_TIMEOUT_SECONDS each, backoff
doubling from EVENT_BACKOFF_SECONDS), and a short-lived process waits at most EVENT_DEADLINE_SECONDS
for all of them (`flush`). What is not delivered by then is written to the dead-letter file
(`CHURNOPS_EVENT_DEAD_LETTER`, else `$CHURNOPS_HOME/events/dead-letter.jsonl`, one JSON line per
event and sink); `churnops events replay` sends those again. A sink URL can hold a token (a chat
webhook's path does): logs and dead letters name a sink by scheme, host and a digest of the URL only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from churnops import defaults, names
from churnops.errors import ChurnopsError

ENV_SINKS = "CHURNOPS_EVENT_SINKS"
ENV_DEAD_LETTER = "CHURNOPS_EVENT_DEAD_LETTER"
CHAT_PREFIX = "chat+"
CLOUDEVENTS = "cloudevents"
CHAT = "chat"

# Event kinds (the CloudEvents `type` is defaults.EVENT_TYPE_PREFIX + kind).
GATE_DECIDED = "gate.decided"
APPROVAL_APPROVED = "approval.approved"
APPROVAL_REJECTED = "approval.rejected"
APPROVAL_EXPIRED = "approval.expired"
CHAMPION_PROMOTED = "champion.promoted"  # an operator's `models promote`
CHAMPION_ROLLED_BACK = "champion.rolled-back"
ALIAS_MOVED = "alias.moved"  # every champion move churnops makes: the serving follower's hint to resolve now
GUARD_FINDING = "guard.finding"
DRIFT_VERDICT = "drift.verdict"
RETRAIN_TRIGGERED = "retrain.triggered"
PIPELINE_FAILED = "pipeline.failed"


class EventConfigError(ChurnopsError):
    """CHURNOPS_EVENT_SINKS cannot be used."""


@dataclass(frozen=True)
class Sink:
    url: str
    format: str = CLOUDEVENTS

    @property
    def key(self) -> str:
        """A digest of the URL: how a dead letter names its sink without the URL's secrets."""
        return hashlib.sha256(f"{self.format}:{self.url}".encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{CHAT_PREFIX if self.format == CHAT else ''}{parts.scheme}://{parts.hostname}{port}/... ({self.key})"


def parse_sinks(text: str, source: str = ENV_SINKS) -> list[Sink]:
    """Comma-separated URLs; `chat+URL` for a chat webhook. Raises EventConfigError naming the bad entry."""
    sinks = []
    for index, raw in enumerate(part.strip() for part in (text or "").split(",")):
        if not raw:
            continue
        fmt, url = (CHAT, raw[len(CHAT_PREFIX):]) if raw.startswith(CHAT_PREFIX) else (CLOUDEVENTS, raw)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            shown = f"{parts.scheme}://{parts.hostname or ''}/..." if parts.scheme else "entry without a scheme"
            raise EventConfigError(
                f"{source}: sink {index + 1} ({shown}) is not an http(s) URL. List URLs separated by commas, "
                f"e.g. {ENV_SINKS}=http://events.example:8080/,chat+https://hooks.example/T/B/X")
        sinks.append(Sink(url, fmt))
    return sinks


def configured_sinks(environ: dict | None = None) -> list[Sink]:
    environ = os.environ if environ is None else environ
    return parse_sinks(environ.get(ENV_SINKS, ""))


def dead_letter_path(environ: dict | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(ENV_DEAD_LETTER):
        return Path(environ[ENV_DEAD_LETTER])
    return Path(environ.get(names.ENV_HOME, defaults.HOME)).resolve() / "events" / "dead-letter.jsonl"


def make_event(kind: str, subject: str, data: dict[str, Any], origin: str = "cli"):
    """One CloudEvent 1.0 (id and time filled in by the SDK)."""
    from cloudevents.http import CloudEvent

    return CloudEvent({"type": defaults.EVENT_TYPE_PREFIX + kind, "source": f"{defaults.EVENT_SOURCE}:{origin}",
                       "subject": subject, "datacontenttype": "application/json",
                       "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}, data)


def chat_text(event) -> str:
    """The one line a person reads in a chat channel."""
    kind = event["type"].removeprefix(defaults.EVENT_TYPE_PREFIX)
    data = event.get_data() or {}
    summary = data.get("summary") or ", ".join(f"{k}={v}" for k, v in sorted(data.items()) if not isinstance(v, (dict, list)))
    return f"[churnops] {kind} {event['subject']}: {summary}"


def encode(event, sink: Sink) -> tuple[dict[str, str], bytes]:
    if sink.format == CHAT:
        return {"Content-Type": "application/json"}, json.dumps({"text": chat_text(event)}).encode()
    from cloudevents.conversion import to_structured

    headers, body = to_structured(event)
    return dict(headers), body if isinstance(body, bytes) else body.encode()


@dataclass
class Delivery:
    event: Any
    sink: Sink
    state: str = "pending"  # pending | delivered | dead-letter
    attempts: int = 0
    detail: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Publisher:
    """Sends each event to every sink in the background; `flush` bounds how long a process waits."""

    def __init__(self, sinks: list[Sink], *, attempts: int = defaults.EVENT_ATTEMPTS,
                 timeout: float = defaults.EVENT_TIMEOUT_SECONDS, backoff: float = defaults.EVENT_BACKOFF_SECONDS,
                 dead_letter: Path | None = None, log=None):
        self.sinks = list(sinks)
        self.attempts, self.timeout, self.backoff = attempts, timeout, backoff
        self.dead_letter = dead_letter
        self.log = log if log is not None else sys.stderr
        self.deliveries: list[Delivery] = []
        self._write_lock = threading.Lock()

    def publish(self, event) -> list[Delivery]:
        return [self.publish_to(event, sink) for sink in self.sinks]

    def publish_to(self, event, sink: Sink) -> Delivery:
        delivery = Delivery(event, sink)
        self.deliveries.append(delivery)
        threading.Thread(target=self._deliver, args=(delivery,), name="churnops-event", daemon=True).start()
        return delivery

    def _deliver(self, delivery: Delivery) -> None:
        import requests

        try:
            headers, body = encode(delivery.event, delivery.sink)
        except Exception as exc:  # noqa: BLE001 - an event that cannot be encoded is dead-lettered, never raised
            self._give_up(delivery, f"cannot encode: {exc}")
            return
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            if delivery.state != "pending":
                return  # flush gave up on it meanwhile
            delivery.attempts = attempt
            started = time.monotonic()
            try:
                response = requests.post(delivery.sink.url, data=body, headers=headers, timeout=self.timeout)
                if response.status_code < 300:
                    self._finish(delivery, "delivered",
                                 f"HTTP {response.status_code} (attempt {attempt}, {1000 * (time.monotonic() - started):.0f} ms)")
                    return
                delivery.detail = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the sink refuses this event: retrying sends the same refused bytes
            except requests.RequestException as exc:
                delivery.detail = type(exc).__name__
            if attempt < self.attempts:
                time.sleep(delay)
                delay *= 2
        self._give_up(delivery, f"{delivery.detail} after {delivery.attempts} attempt(s)")

    def _finish(self, delivery: Delivery, state: str, detail: str) -> bool:
        with delivery.lock:
            if delivery.state != "pending":
                return False
            delivery.state, delivery.detail = state, detail
        if state == "dead-letter":
            self._write_dead_letter(delivery)  # before `done`: whoever waits finds the record written
        self._say(delivery)
        delivery.done.set()
        return True

    def _give_up(self, delivery: Delivery, detail: str) -> None:
        self._finish(delivery, "dead-letter", detail)

    def _say(self, delivery: Delivery) -> None:
        try:
            print(f"churnops events: {delivery.event['type']} {delivery.event['subject']} -> {delivery.sink.label}: "
                  f"{delivery.state} ({delivery.detail})", file=self.log, flush=True)
        except (OSError, ValueError):
            pass  # a closed stderr never fails a decision

    def _write_dead_letter(self, delivery: Delivery) -> None:
        if self.dead_letter is None:
            return
        from cloudevents.conversion import to_dict

        record = {"sink": delivery.sink.key, "sink_label": delivery.sink.label, "format": delivery.sink.format,
                  "reason": delivery.detail, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "event": to_dict(delivery.event)}
        try:
            with self._write_lock:
                self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
                with open(self.dead_letter, "a", encoding="utf-8") as stream:
                    stream.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        except OSError as exc:
            print(f"churnops events: cannot write the dead letter {self.dead_letter}: {exc}", file=self.log, flush=True)

    def flush(self, deadline: float = defaults.EVENT_DEADLINE_SECONDS) -> list[Delivery]:
        """Wait up to `deadline` seconds for the pending deliveries; dead-letter the rest. Returns them all."""
        end = time.monotonic() + deadline
        for delivery in list(self.deliveries):
            delivery.done.wait(max(0.0, end - time.monotonic()))
            if delivery.state == "pending":
                self._give_up(delivery, f"{delivery.detail or 'no answer'}; gave up after the {deadline:.0f} s deadline "
                                        f"({delivery.attempts} attempt(s))")
        return list(self.deliveries)


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def publisher() -> Publisher:
    """The process's publisher, built from the environment on first use."""
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            _publisher = Publisher(configured_sinks(), dead_letter=dead_letter_path())
        return _publisher


def reset() -> None:
    """Forget the process's publisher (the environment changed: tests, a long-lived process reconfigured)."""
    global _publisher
    with _publisher_lock:
        _publisher = None


def emit(kind: str, subject: str, data: dict[str, Any], origin: str = "cli") -> None:
    """Announce something already decided. Never raises: a broken sink config was refused at start (`check`)."""
    try:
        sender = publisher()
        if sender.sinks:
            sender.publish(make_event(kind, subject, data, origin))
    except Exception as exc:  # noqa: BLE001 - the decision stands whatever happens to its announcement
        print(f"churnops events: {kind} {subject} not sent: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def flush(deadline: float = defaults.EVENT_DEADLINE_SECONDS) -> None:
    if _publisher is not None and _publisher.deliveries:
        _publisher.flush(deadline)


def check() -> list[Sink]:
    """Refuse a bad CHURNOPS_EVENT_SINKS before any work (EventConfigError names the entry and the fix)."""
    return configured_sinks()


def read_dead_letters(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def replay(path: Path, sinks: list[Sink], deadline: float = defaults.EVENT_DEADLINE_SECONDS) -> dict[str, int]:
    """Send the dead letters again to the configured sink each names; keep only those still undelivered."""
    from cloudevents.conversion import from_dict
    from cloudevents.http import CloudEvent

    records = read_dead_letters(path)
    by_key = {sink.key: sink for sink in sinks}
    sender = Publisher([], dead_letter=None)
    pairs = []
    for record in records:
        sink = by_key.get(record["sink"])
        if sink is None:
            continue
        pairs.append((record, sender.publish_to(from_dict(CloudEvent, record["event"]), sink)))
    sender.flush(deadline)
    kept = [record for record in records if record["sink"] not in by_key]
    kept += [record for record, delivery in pairs if delivery.state != "delivered"]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in kept), encoding="utf-8")
    os.replace(temporary, path)
    return {"replayed": len(pairs), "delivered": sum(d.state == "delivered" for _, d in pairs), "kept": len(kept)}
