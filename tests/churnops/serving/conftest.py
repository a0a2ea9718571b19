"""Fixtures of the serving tests: a real `mlflow server` (proxied artifacts), a trained champion in it.

The helpers (processes, HTTP) are in tests/support/serving.py.
"""

from __future__ import annotations

import pytest
from support import serving
from support.serving import Tracking


@pytest.fixture(scope="module")
def tracking(tmp_path_factory) -> Tracking:
    started = serving.start_tracking(tmp_path_factory.mktemp("serving-mlflow"))
    yield started
    started.service.stop()


@pytest.fixture(scope="module")
def champion(tracking, tmp_path_factory, synthetic_csv) -> dict:
    """One local training pipeline run against the server: version 1 registered and promoted champion."""
    from churnops.app import runs

    result = runs.train(str(synthetic_csv), tracking_uri=tracking.url, home=tmp_path_factory.mktemp("serving-home"),
                        model_type="logistic_regression")  # one model: the serving tests need a champion, not a search
    assert result["promoted"], result
    return result


@pytest.fixture
def start_serve(tmp_path):
    started: list[serving.Served] = []

    def start(model_uri: str, tracking_uri: str, *extra: str, ready: bool = True) -> serving.Served:
        served = serving.start_server(model_uri, tracking_uri, tmp_path, *extra, ready=ready)
        started.append(served)
        return served

    yield start
    for served in started:
        served.service.stop()
