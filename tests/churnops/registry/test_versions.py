"""Model versions: registration and lookup by training fingerprint."""

from __future__ import annotations

import mlflow

from churnops.names import TAG_FINGERPRINT as TAG
from churnops.registry.versions import find_by_fingerprint as find_version


def test_find_version_returns_the_oldest_match(tracking_uri):
    client = mlflow.MlflowClient()
    client.create_registered_model("fp-model")
    for tags in ({TAG: "aaa"}, {TAG: "bbb"}, {TAG: "bbb"}):
        client.create_model_version("fp-model", "file:///nowhere", tags=tags)
    assert str(find_version(client, "fp-model", "bbb").version) == "2"
    assert find_version(client, "fp-model", "ccc") is None
