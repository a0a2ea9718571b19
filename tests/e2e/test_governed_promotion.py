"""Governed promotion end to end on the embedded store (issue 27's "Done when"), through the CLI.

v1 is the champion (policy auto). `churnops train --promotion approval --guard enforce` trains v2:
it passes the gate, the champion stays v1, v2 awaits approval; `churnops models approve` moves it;
a loopback receiver got the CloudEvents of the decision and the approval; an alias moved with the
plain MLflow client is reported and put back by the next churnops command; `churnops models card`
writes v2's card. Two local pipeline runs (~40 s each on the shared 2-core machine).
"""

from __future__ import annotations

import json

import mlflow
import pytest
from support.receivers import Receiver

from churnops import events, names
from churnops.app.cli import main

pytestmark = pytest.mark.e2e
NAME = "churn-classifier"


@pytest.fixture(scope="module")
def sink():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def flow(tmp_path_factory, synthetic_csv, sink):
    home = tmp_path_factory.mktemp("governed-flow")
    patch = pytest.MonkeyPatch()
    patch.setenv("CHURNOPS_HOME", str(home))
    patch.setenv(events.ENV_SINKS, sink.url)
    events.reset()
    try:
        assert main(["train", "--dataset", str(synthetic_csv), "--param", "C=1.0", "--json"]) == 0
        assert main(["train", "--dataset", str(synthetic_csv), "--param", "C=0.3", "--promotion", "approval",
                     "--guard", "enforce", "--json"]) == 0
        uri = f"sqlite:///{home}/mlflow/mlflow.db"
        yield {"home": home, "client": mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)}
    finally:
        events.reset()
        patch.undo()


@pytest.fixture
def cli(flow, sink, monkeypatch, capsys):
    monkeypatch.setenv("CHURNOPS_HOME", str(flow["home"]))
    monkeypatch.setenv(events.ENV_SINKS, sink.url)
    events.reset()
    capsys.readouterr()

    def run(*args: str) -> dict:
        assert main([*args, "--json"]) == 0, capsys.readouterr().err
        return json.loads(capsys.readouterr().out)

    return run


def received(sink: Receiver) -> list[dict]:
    return [json.loads(r["body"]) for r in sink.received]


def aliases(client) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model(NAME).aliases.items()}


def test_a_passing_training_under_approval_leaves_the_champion_and_waits(flow, sink):
    client = flow["client"]
    assert aliases(client) == {"champion": "1", "challenger": "2", "candidate-latest": "2"}
    v2 = client.get_model_version(NAME, "2")
    assert v2.tags[names.TAG_STATUS] == names.STATUS_AWAITING_APPROVAL
    assert v2.description.startswith("AWAITING APPROVAL - passed the gate; waits for `churnops models approve "
                                      "--version 2 --reason TEXT` (or `models reject`) until 20"), v2.description
    assert "(champion: v1)." in v2.description.split("\n\n")[0]
    assert "[Model card](#/experiments/" in v2.description  # the card's link in the MLflow UI
    decided = [e for e in received(sink) if e["type"] == "io.churnops.gate.decided" and e["data"]["version"] == "2"]
    assert decided and decided[0]["data"]["status"] == "awaiting-approval" and decided[0]["specversion"] == "1.0"


def test_approve_moves_the_champion_and_is_announced(flow, sink, cli):
    result = cli("models", "approve", "--version", "2", "--reason", "card reviewed by the churn team")
    assert (result["champion"], result["previous_champion"]) == ("2", "1")
    assert aliases(flow["client"])["champion"] == "2"
    approved = [e for e in received(sink) if e["type"] == "io.churnops.approval.approved"]
    assert approved and approved[0]["data"]["reason"] == "card reviewed by the churn team"


def test_an_alias_moved_with_the_plain_client_is_reported_and_put_back(flow, sink, cli):
    client = flow["client"]
    client.set_registered_model_alias(NAME, names.ALIAS_CHAMPION, "1")  # what the MLflow UI's alias editor does
    cli("models", "list", "--no-rescore")  # any churnops command runs the guard first
    assert aliases(client)["champion"] == "2"
    audit = json.loads(client.get_model_version(NAME, "1").tags[names.TAG_AUDIT_HISTORY])
    assert audit[-1]["action"] == names.AUDIT_GUARD_REFUSED
    finding = [e for e in received(sink) if e["type"] == "io.churnops.guard.finding"]
    assert finding and finding[0]["data"]["findings"] == [{"alias": "champion", "expected": "2", "found": "1"}]


def test_the_card_is_written_for_a_version(flow, cli, tmp_path):
    result = cli("models", "card", "--version", "2", "--output", str(tmp_path / "card.html"))
    page = (tmp_path / "card.html").read_text()
    assert result["output"] == str(tmp_path / "card.html")
    assert "<h1>Model card: churn-classifier v2</h1>" in page
    assert "<strong>approve</strong> by" in page and "card reviewed by the churn team" in page
    assert "95% bootstrap interval" in page and "Unseen categories" in page
    logged = flow["client"].download_artifacts(flow["client"].get_model_version(NAME, "2").run_id, names.CARD_MARKDOWN,
                                               str(tmp_path))
    assert open(logged).read().startswith("# Model card: churn-classifier v2")
