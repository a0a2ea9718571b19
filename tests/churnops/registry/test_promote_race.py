"""Issue 16, Why 4: two `churnops models promote` at once both reported success (3 of 8 trials).

On the SQLite store of a local run; the race itself is tests/support/races.py (shared with the
PostgreSQL-backed server test, test_promote_race_server.py).
"""

from __future__ import annotations

import dataclasses
import json

import mlflow
import pytest
from sklearn.dummy import DummyClassifier
from support import races


@pytest.fixture
def store(tracking_uri):
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    for _ in range(3):
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model",
                                            pip_requirements=["scikit-learn"])
        mlflow.register_model(info.model_uri, races.NAME)
    client.set_registered_model_alias(races.NAME, "champion", "1")
    return tracking_uri, client


def test_of_two_concurrent_promotes_exactly_one_wins(store, capsys):
    uri, client = store
    tally = races.race(uri, client, join_timeout=60)
    capsys.readouterr()
    with capsys.disabled():
        print(json.dumps({"store": "sqlite", **dataclasses.asdict(tally)}))
    assert (tally.winners, tally.refusals, tally.both_won) == (tally.tries, tally.tries, 0)
