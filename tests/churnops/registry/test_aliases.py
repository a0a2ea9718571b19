"""Alias moves on a real (SQLite) registry: optimistic concurrency, rollback chain, audit trail."""

from __future__ import annotations

import json

import pytest

from churnops.errors import RegistryError
from churnops.registry import aliases as champion


@pytest.fixture
def model(fresh_model):
    """A fresh registered model with versions 1-3 (no aliases) in the module's store (conftest): (client, name)."""
    return fresh_model


def aliases(client, name) -> dict[str, str]:
    return {alias: str(number) for alias, number in client.get_registered_model(name).aliases.items()}


def test_promote_moves_champion_and_keeps_the_previous_one(model):
    client, name = model
    champion.promote(client, name, "1", actor="ana", reason="first")
    result = champion.promote(client, name, "2", actor="bo", reason="better on March data")
    assert result == {"model_name": name, "champion": "2", "previous_champion": "1", "validation_status": ""}
    assert aliases(client, name) == {"champion": "2", "previous-champion": "1"}
    last = json.loads(client.get_model_version(name, "2").tags[champion.AUDIT_HISTORY])[-1]
    assert (last["action"], last["by"], last["reason"]) == ("promote", "bo", "better on March data")
    assert last["at"].endswith("+00:00")
    assert json.loads(client.get_model_version(name, "1").tags[champion.AUDIT_HISTORY])[-1]["action"] == "demoted"
    history = json.loads(client.get_model_version(name, "1").tags[champion.AUDIT_HISTORY])
    assert [entry["action"] for entry in history] == ["promote", "demoted"]


def test_a_champion_changed_by_someone_else_is_never_overwritten(model):
    client, name = model
    champion.promote(client, name, "1", actor="ana", reason="first")
    # This caller decided against "no champion", but v1 became champion meanwhile.
    with pytest.raises(champion.ChampionChangedError, match=r"expected no champion, found v1.*nothing was moved"):
        champion.move_champion(client, name, "2", None, actor="run-b", reason="stale decision")
    assert aliases(client, name) == {"champion": "1"}
    assert champion.AUDIT_HISTORY not in client.get_model_version(name, "2").tags


def test_rollback_walks_back_through_the_recorded_history(model):
    client, name = model
    for version in ("1", "2", "3"):
        champion.promote(client, name, version, actor="ana", reason=f"v{version}")
    first = champion.rollback(client, name, actor="oncall", reason="v3 misbehaves")
    assert (first["champion"], first["rolled_back"]) == ("2", "3")
    assert aliases(client, name) == {"champion": "2", "previous-champion": "1"}
    assert json.loads(client.get_model_version(name, "3").tags[champion.AUDIT_HISTORY])[-1]["action"] == "rolled-back"
    champion.rollback(client, name, actor="oncall", reason="v2 too")
    assert aliases(client, name) == {"champion": "1"}
    with pytest.raises(RegistryError, match="no `previous-champion` alias.*models promote"):
        champion.rollback(client, name, actor="oncall", reason="again")


@pytest.mark.parametrize(
    ("version", "message"),
    [("9", "has no version 9.*models list"), ("1", "already the champion")],
)
def test_promote_refuses_what_it_cannot_do(model, version, message):
    client, name = model
    champion.promote(client, name, "1", actor="ana", reason="first")
    with pytest.raises(RegistryError, match=message):
        champion.promote(client, name, version, actor="ana", reason="again")
    assert aliases(client, name) == {"champion": "1"}


def test_promoting_the_challenger_clears_that_alias(model):
    client, name = model
    client.set_registered_model_alias(name, champion.CHALLENGER, "2")
    champion.promote(client, name, "2", actor="ana", reason="overrule the gate")
    assert aliases(client, name) == {"champion": "2"}


def test_the_gate_refuses_to_promote_over_a_champion_that_moved_during_the_run(model, tmp_path):
    from churnops.core import promotion
    from churnops.steps import promote_model as gate

    client, name = model
    experiment = client.create_experiment(f"gate-{name}", artifact_location=(tmp_path / "artifacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    # Decided against "no champion" (the first-version case), but v1 was promoted meanwhile.
    decision = promotion.decide({"roc_auc": 0.9, "precision": 0.6, "recall": 0.5}, None, None, None)
    assert decision.promoted  # it passes every default threshold; only the moved champion stops it
    champion.promote(client, name, "1", actor="other-run", reason="won first")
    result = gate.apply_decision(client, name, "2", run_id, decision, "training-run:test")
    assert (result["action"], result["status"], result["promoted"]) == ("conflict", "failed", False)
    assert aliases(client, name) == {"champion": "1"}
    tags = client.get_model_version(name, "2").tags
    assert tags["validation_action"] == "conflict" and "champion changed during this run" in tags["validation_reason"]
    assert client.get_run(run_id).data.tags["churnops.promotion_action"] == "conflict"


def test_a_mistyped_model_name_is_never_echoed_back_and_an_unknown_alias_names_the_real_ones(model):
    from churnops.registry.loading import resolve

    client, name = model
    champion.promote(client, name, "1", actor="ana", reason="first")
    typo = name.replace("model", "modle")
    for attempt in (lambda: champion.promote(client, typo, "2", actor="ana", reason="typo"),
                    lambda: resolve(f"models:/{typo}@champion", client)):
        with pytest.raises(RegistryError) as error:
            attempt()
        suggested = str(error.value).split("Did you mean ", 1)[1]
        assert suggested.startswith((f"'{name}'?", f"models:/{name}@champion?")) and typo not in suggested
    with pytest.raises(RegistryError) as error:
        resolve(f"models:/{name}@prod", client)
    assert f"{name} has no alias 'prod' (its aliases: champion)." in str(error.value) and ".." not in str(error.value)
