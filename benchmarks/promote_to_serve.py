"""From a promote to the first answer of the new version (issue 27): the alias-moved event vs the poll.

Called by benchmarks/serving.py while its `churnops serve` runs (poll every `poll_seconds`): the same
logged model is registered once more as a new version, then the champion is moved between the two
with churnops' own promote (`churnops.registry.aliases.promote`, in this process). With the event:
CHURNOPS_EVENT_SINKS names the server's POST /churnops/v1/events, so the move's `alias.moved`
CloudEvent wakes the follower. Without: no sink, the follower finds the move at its next poll.
Each case: seconds from the promote's return to the first 200 answer naming the new version
(one-row v1 requests every 20 ms, bounded by the poll interval plus 30 s).
"""

from __future__ import annotations

import http.client
import json
import os
import time

import mlflow


def first_answer_from(port: int, name: str, row: dict, version: str, timeout: float) -> float:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"instances": [row]})
    while time.monotonic() - started < timeout:
        connection.request("POST", f"/v1/models/{name}:predict", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status == 200 and answer.get("model_version") == version:
            connection.close()
            return time.monotonic() - started
        time.sleep(0.02)
    connection.close()
    raise SystemExit(f"v{version} never answered within {timeout:.0f} s of its promotion")


def measure(port: int, name: str, tracking_uri: str, row: dict, poll_seconds: float, moves: int = 3) -> list[list]:
    from churnops import events
    from churnops.registry import aliases

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    champion = client.get_model_version_by_alias(name, "champion")
    model_id = champion.source.rsplit("/", 1)[-1]  # the source is models:/<logged model id>
    other = client.create_model_version(name, champion.source, champion.run_id, model_id=model_id).version
    versions = [str(other), str(champion.version)]
    rows = []
    for label, sinks, count in (("alias-moved event", f"http://127.0.0.1:{port}/churnops/v1/events", moves),
                                (f"poll only (every {poll_seconds:.0f} s)", "", 1)):
        os.environ["CHURNOPS_EVENT_SINKS"] = sinks
        events.reset()
        seconds = []
        for index in range(count):
            target = versions[(len(rows) + index) % 2] if label.startswith("poll") else versions[index % 2]
            aliases.promote(client, name, target, actor="benchmark", reason="promote-to-serve timing")
            seconds.append(first_answer_from(port, name, row, target, poll_seconds + 30))
            events.flush(5)
        rows.append([label, count, f"{min(seconds):.2f}", f"{max(seconds):.2f}"])
    os.environ.pop("CHURNOPS_EVENT_SINKS", None)
    events.reset()
    return rows
