"""Every alias move rewrites the registry's words (churnops.registry.narrative through the journal), on a real
SQLite registry: after the gate's promotions, a rollback and a re-promotion no description names a role its
version no longer has, and the registered model's first sentence names the champion."""

from __future__ import annotations

import mlflow
import pytest

from churnops import names
from churnops.core import promotion
from churnops.registry import aliases
from churnops.registry.tracking import embedded_tracking_uri
from churnops.steps import promote_model as gate

PASSING = {"roc_auc": 0.9, "precision": 0.6, "recall": 0.5}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """v1 and v2 promoted by the gate (v2 over v1), each from a run tagged with its dataset: (client, name)."""
    folder = tmp_path_factory.mktemp("narrative-store")
    uri = embedded_tracking_uri(folder)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = "narrated"
    client.create_registered_model(name)
    experiment = client.create_experiment("narrative", artifact_location=(folder / "artifacts").as_uri())
    champion = None
    for version, dataset in (("1", "churn_synthetic@b86bccb1"), ("2", "telco_customer_churn@454ee810")):
        run_id = client.create_run(experiment, tags={names.RUN_TAG_DATASET: dataset}).info.run_id
        client.create_model_version(name, "file:///nowhere", run_id=run_id)
        decision = promotion.decide(PASSING, champion, PASSING if champion else None, champion)
        assert gate.apply_decision(client, name, version, run_id, decision, f"training-run:{run_id}")["promoted"]
        champion = version
    return client, name


def descriptions(client, name) -> tuple[str, dict[str, str]]:
    versions = {str(v.version): v.description or "" for v in client.search_model_versions(f"name = '{name}'")}
    return client.get_registered_model(name).description or "", versions


def roles_claimed(text: str) -> set[str]:
    """The role a version description's status line claims."""
    status = text.split("\n\n", 1)[0]
    return {role for role in ("CHAMPION since", "PREVIOUS CHAMPION", "ROLLED BACK", "SUPERSEDED")
            if status.startswith(role)}


def test_each_move_keeps_every_description_true(registry):
    client, name = registry
    model, versions = descriptions(client, name)
    assert model.startswith("Champion: v2 since "), model
    assert "Trained on telco_customer_churn@454ee810." in model
    assert roles_claimed(versions["2"]) == {"CHAMPION since"} and roles_claimed(versions["1"]) == {"PREVIOUS CHAMPION"}
    before = client.get_registered_model(name).last_updated_timestamp

    aliases.rollback(client, name, actor="oncall@host", reason="INC-7: v2 over-predicts churn")
    model, versions = descriptions(client, name)
    first_sentence = model.split(". ", 1)[0]
    assert first_sentence.startswith("Champion: v1 since ") and first_sentence.endswith("(rollback by oncall@host)")
    assert "Why: INC-7: v2 over-predicts churn." in model and "v2 is" not in model
    assert roles_claimed(versions["1"]) == {"CHAMPION since"}
    assert roles_claimed(versions["2"]) == {"ROLLED BACK"} and "INC-7: v2 over-predicts churn" in versions["2"]
    assert "PROMOTED to champion" not in versions["2"]  # the gate's verdict is a dated record now
    assert versions["2"].split("\n\n")[1].startswith("Validation gate, ")
    assert client.get_registered_model(name).last_updated_timestamp > before  # "Last Modified" moves with the champion

    aliases.promote(client, name, "2", actor="oncall@host", reason="INC-7 fixed upstream")
    model, versions = descriptions(client, name)
    assert model.startswith("Champion: v2 since ") and "(promoted by oncall@host). Why: INC-7 fixed upstream." in model
    assert "Previous champion (the `churnops models rollback` target): v1." in model
    assert roles_claimed(versions["2"]) == {"CHAMPION since"} and roles_claimed(versions["1"]) == {"PREVIOUS CHAMPION"}
    moves = model.split("Last moves, newest first:\n", 1)[1].splitlines()
    assert [line.split(": ", 1)[1].split(" by ")[0] for line in moves] == [
        "v2 promoted to champion", "champion rolled back to v1", "v2 promoted to champion", "v1 promoted to champion"]


def test_a_challenger_decision_rewrites_the_versions_it_touches(registry):
    client, name = registry
    run_id = client.create_run(client.get_experiment_by_name("narrative").experiment_id).info.run_id
    version = str(client.create_model_version(name, "file:///nowhere", run_id=run_id).version)
    champion = aliases.alias_version(client, name, names.ALIAS_CHAMPION)
    decision = promotion.decide({**PASSING, "roc_auc": 0.5}, champion, PASSING, champion)
    gate.apply_decision(client, name, version, run_id, decision, "training-run:x")
    model, versions = descriptions(client, name)
    assert versions[version].startswith(f"CHALLENGER - failed the gate, not serving (champion: v{champion}).")
    assert "failed (kept as challenger) - below the absolute threshold" in versions[version]
    assert f"Challenger: v{version}." in model and model.startswith(f"Champion: v{champion} ")
