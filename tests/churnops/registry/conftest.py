"""Fixtures of the registry tests: one SQLite store per module, fresh models with versions 1-3 in it."""

from __future__ import annotations

import itertools

import mlflow
import pytest

from churnops.registry.tracking import embedded_tracking_uri

_models = itertools.count(1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module: creating one costs ~5 s of schema migrations."""
    uri = embedded_tracking_uri(tmp_path_factory.mktemp("registry-store"))
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def fresh_model(store):
    """A fresh registered model with versions 1-3 (no aliases) in the module's store: (client, name)."""
    name = f"registry-model-{next(_models)}"
    store.create_registered_model(name)
    for _ in range(3):
        store.create_model_version(name, "file:///nowhere")
    return store, name
