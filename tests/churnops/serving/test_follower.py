"""The alias follower on a real (embedded) MLflow registry, with the loading step replaced: which version
serves after each poll. The real loading (a pyfunc through a tracking server) is in test_serve_process.py."""

from __future__ import annotations

import mlflow
import pytest

from churnops.core.features import FeatureSpec
from churnops.serving.follower import Follower, Served, ServingError

NAME = "follow-me"


@pytest.fixture
def registry(tracking_uri):
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.create_registered_model(NAME)
    for _ in range(3):
        client.create_model_version(NAME, source="mlflow-artifacts:/nowhere", run_id=None)
    client.set_registered_model_alias(NAME, "champion", "1")
    return client


def loader(broken: set[str], loaded: list[str]):
    def load(resolved):
        loaded.append(resolved.model_version)
        if resolved.model_version in broken:
            raise RuntimeError(f"version {resolved.model_version} is broken")
        return Served(resolved, object(), FeatureSpec([], [], [], []), None)
    return load


def test_it_swaps_only_to_a_version_that_loaded(registry, tracking_uri):
    loaded: list[str] = []
    events: list[tuple[str, str]] = []
    follower = Follower(f"models:/{NAME}@champion", tracking_uri, 1.0, loader=loader({"2"}, loaded),
                        on_event=lambda event, resolved, _: events.append((event, resolved.model_version)))
    assert follower.start_serving(5).resolved.model_version == "1"
    assert follower.poll_once() == "unchanged"
    registry.set_registered_model_alias(NAME, "champion", "2")
    assert follower.poll_once() == "failed"
    assert follower.served.resolved.model_version == "1"  # the old one keeps serving
    assert "models:/follow-me/2 failed to load: version 2 is broken" in follower.last_failure
    assert follower.poll_once() == "failed" and loaded.count("2") == 1  # reported once, not reloaded every poll
    registry.set_registered_model_alias(NAME, "champion", "3")
    assert follower.poll_once() == "swapped"
    assert follower.served.resolved.model_version == "3"
    assert events == [("serving", "1"), ("load_failed", "2"), ("swapped", "3")]


def test_a_version_that_fails_at_start_stops_the_start(registry, tracking_uri):
    follower = Follower(f"models:/{NAME}@champion", tracking_uri, 1.0, loader=loader({"1"}, []))
    with pytest.raises(ServingError, match=r"Cannot serve models:/follow-me/1 .*version 1 is broken"):
        follower.start_serving(5)


def test_an_unknown_alias_stops_the_start_naming_it(registry, tracking_uri):
    follower = Follower(f"models:/{NAME}@nope", tracking_uri, 1.0, loader=loader(set(), []))
    with pytest.raises(ServingError, match=r"Cannot resolve models:/follow-me@nope"):
        follower.start_serving(5)


def test_the_poll_interval_must_be_positive(tracking_uri):
    with pytest.raises(ServingError, match="--poll-seconds must be > 0"):
        Follower(f"models:/{NAME}@champion", tracking_uri, 0, loader=loader(set(), []))


def test_a_hint_resolves_now_instead_of_at_the_next_poll(registry, tracking_uri):
    import time

    follower = Follower(f"models:/{NAME}@champion", tracking_uri, 600.0, loader=loader(set(), []))
    follower.start_serving(5)
    follower.start_polling()
    try:
        registry.set_registered_model_alias(NAME, "champion", "3")
        time.sleep(1.0)
        assert follower.served.resolved.model_version == "1"  # a 600 s poll: nothing yet
        follower.hint()  # the alias-moved event
        deadline = time.monotonic() + 10
        while follower.served.resolved.model_version != "3" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert follower.served.resolved.model_version == "3"
    finally:
        follower.stop()


def test_the_vet_hook_decides_which_version_serves(registry, tracking_uri):
    from dataclasses import replace

    follower = Follower(f"models:/{NAME}@champion", tracking_uri, 1.0, loader=loader(set(), []),
                        vet=lambda _client, resolved: replace(resolved, model_uri=f"models:/{NAME}/1", model_version="1"))
    follower.start_serving(5)
    registry.set_registered_model_alias(NAME, "champion", "2")
    assert follower.poll_once() == "unchanged" and follower.served.resolved.model_version == "1"
