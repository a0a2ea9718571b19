"""Issue 16, Why 4: two `churnops models promote` at once both reported success (3 of 8 trials).

Two real CLI invocations (`churnops.app.cli.main`, forked after the imports so that a try takes
milliseconds, not a Python start-up) are released together by a barrier, each promoting a
different version over the same expected champion (`--if-champion 1`). Exactly one must win and
the other be refused, and the registry must show the winner as champion, 100 tries of 100.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import mlflow
import pytest
from sklearn.dummy import DummyClassifier

from churnops.app.cli import main

NAME = "churn-classifier"
TRIES = 100


def contender(uri: str, version: str, barrier, results) -> None:
    barrier.wait()
    # stdout/stderr of a forked child: keep the JSON answer, drop the rest
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    code = main(["models", "promote", "--tracking-uri", uri, "--version", version, "--if-champion", "1",
                 "--json", "--reason", "race"])
    results.put((version, code))


@pytest.fixture
def store(tracking_uri):
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    for _ in range(3):
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model")
        mlflow.register_model(info.model_uri, NAME)
    client.set_registered_model_alias(NAME, "champion", "1")
    return tracking_uri, client


def test_of_two_concurrent_promotes_exactly_one_wins(store, capsys):
    uri, client = store
    context = multiprocessing.get_context("fork")
    winners = refusals = 0
    started = time.monotonic()
    for _ in range(TRIES):
        client.set_registered_model_alias(NAME, "champion", "1")
        client.delete_registered_model_alias(NAME, "previous-champion") if "previous-champion" in \
            client.get_registered_model(NAME).aliases else None
        barrier, results = context.Barrier(2), context.Queue()
        workers = [context.Process(target=contender, args=(uri, version, barrier, results)) for version in ("2", "3")]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        outcome = dict(results.get(timeout=5) for _ in workers)
        won = [version for version, code in outcome.items() if code == 0]
        assert len(won) == 1, outcome
        assert str(client.get_registered_model(NAME).aliases["champion"]) == won[0]
        winners += 1
        refusals += sum(1 for code in outcome.values() if code != 0)
    duration = time.monotonic() - started
    capsys.readouterr()
    print(json.dumps({"store": "sqlite", "tries": TRIES, "winners": winners, "refusals": refusals,
                      "seconds": round(duration, 1)}))
    assert (winners, refusals) == (TRIES, TRIES)
