"""Governed promotion on a real (SQLite) registry (issue 27): the guard against alias moves made outside
churnops, and the approval policy's approve / reject / expiry. Versions without runs: no training here."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from churnops import events, names
from churnops.errors import RegistryError
from churnops.registry import aliases, approvals, guard


@pytest.fixture
def model(fresh_model):
    """Versions 1-3 (conftest); v1 made champion by churnops (so the guard has its record)."""
    client, name = fresh_model
    aliases.promote(client, name, "1", actor="tester", reason="first")
    return client, name


def current(client, name) -> dict[str, str]:
    return {alias: str(number) for alias, number in client.get_registered_model(name).aliases.items()}


def history(client, name, version) -> list[str]:
    return [e["action"] for e in json.loads(client.get_model_version(name, version).tags.get(names.TAG_AUDIT_HISTORY, "[]"))]


def set_policy(client, name, guard_mode: str) -> None:
    client.set_registered_model_tag(name, names.TAG_POLICY, json.dumps({"promotion": "approval", "guard": guard_mode,
                                                                        "approval_hours": 72}))


def test_a_churnops_move_is_recorded_and_raises_no_finding(model):
    client, name = model
    aliases.promote(client, name, "2", actor="tester", reason="better")
    assert json.loads(client.get_registered_model(name).tags[names.TAG_GUARD_RECORD]) == {
        "champion": "2", "previous-champion": "1"}
    assert guard.check(client, name, actor="t", origin="test") == []


def test_a_move_outside_churnops_is_reported_once_and_left_under_report(model, event_sink):
    client, name = model
    set_policy(client, name, "report")
    client.set_registered_model_alias(name, names.ALIAS_CHAMPION, "3")  # the plain MLflow client: no audit entry
    found = guard.check(client, name, actor="tester", origin="test")
    assert [f.to_dict() for f in found] == [{"alias": "champion", "expected": "1", "found": "3"}]
    assert current(client, name)[names.ALIAS_CHAMPION] == "3"  # report only
    assert history(client, name, "3") == [names.AUDIT_GUARD_REPORTED]
    guard.check(client, name, actor="tester", origin="test")  # the next command: no second announcement
    assert history(client, name, "3") == [names.AUDIT_GUARD_REPORTED]
    assert event_sink.kinds() == [events.GUARD_FINDING]


def test_a_move_outside_churnops_is_put_back_under_enforce(model, event_sink):
    client, name = model
    set_policy(client, name, "enforce")
    client.set_registered_model_alias(name, names.ALIAS_CHAMPION, "3")
    found = guard.check(client, name, actor="tester", origin="test")
    assert [f.alias for f in found] == ["champion"]
    assert current(client, name)[names.ALIAS_CHAMPION] == "1"
    assert history(client, name, "1")[-1] == names.AUDIT_GUARD_RESTORED
    assert history(client, name, "3") == [names.AUDIT_GUARD_REFUSED]
    assert guard.check(client, name, actor="tester", origin="test") == []  # consistent again
    assert event_sink.kinds() == sorted([events.GUARD_FINDING, events.ALIAS_MOVED])


def test_a_deleted_champion_is_a_finding_too(model):
    client, name = model
    set_policy(client, name, "enforce")
    client.delete_registered_model_alias(name, names.ALIAS_CHAMPION)
    assert [(f.alias, f.expected, f.found) for f in guard.check(client, name, actor="t", origin="test")] == [
        ("champion", "1", None)]
    assert current(client, name)[names.ALIAS_CHAMPION] == "1"


def test_no_judgement_while_a_journal_entry_is_open(model):
    client, name = model
    client.set_registered_model_tag(name, names.TAG_INTENT, json.dumps({"id": "x"}))
    client.set_registered_model_alias(name, names.ALIAS_CHAMPION, "2")
    assert guard.findings(client.get_registered_model(name)) == []  # a churnops move in progress looks like this


def test_serving_keeps_the_recorded_version_under_enforce(model):
    client, name = model
    set_policy(client, name, "enforce")
    client.set_registered_model_alias(name, names.ALIAS_CHAMPION, "3")
    version, found = guard.served_version(client, name, names.ALIAS_CHAMPION, "3", actor="serve", origin="test")
    assert version == "1" and [f.found for f in found] == ["3"]


def awaiting(client, name, version, *, compared="1", expires_in_hours=72.0):
    expires = (datetime.now(timezone.utc) + timedelta(hours=expires_in_hours)).isoformat(timespec="seconds")
    client.set_model_version_tag(name, version, names.TAG_STATUS, names.STATUS_AWAITING_APPROVAL)
    client.set_model_version_tag(name, version, names.TAG_VALIDATION_EVIDENCE,
                                 json.dumps({"compared_champion": compared, "approval_expires": expires}))
    client.update_model_version(name, version, description="AWAITING-APPROVAL - passed the gate: beats the champion.")


def test_approve_moves_the_champion_with_the_approver_audited(model, event_sink):
    client, name = model
    awaiting(client, name, "2")
    result = approvals.approve(client, name, "2", actor="alice", reason="card reviewed")
    assert current(client, name)[names.ALIAS_CHAMPION] == "2" and result["previous_champion"] == "1"
    found = client.get_model_version(name, "2")
    assert found.tags[names.TAG_STATUS] == names.STATUS_PASSED
    last = json.loads(found.tags[names.TAG_AUDIT_HISTORY])[-1]
    assert (last["action"], last["by"], last["reason"]) == ("approve", "alice", "card reviewed")
    # the journal's words (churnops.core.narrative): the role now, who made it so and why
    assert found.description.startswith("CHAMPION since ") and "(approved by alice): card reviewed." in found.description
    assert "Champion: v2 since " in client.get_registered_model(name).description
    assert event_sink.kinds() == sorted([events.APPROVAL_APPROVED, events.ALIAS_MOVED])
    assert guard.check(client, name, actor="t", origin="test") == []  # an approval is a churnops move


def test_approve_refuses_when_the_champion_moved_since_the_gate(model):
    client, name = model
    awaiting(client, name, "3", compared="1")
    aliases.promote(client, name, "2", actor="bob", reason="hotfix")
    with pytest.raises(RegistryError, match=r"compared .* v3 with champion v1, but the champion is now v2"):
        approvals.approve(client, name, "3", actor="alice", reason="ok")
    assert current(client, name)[names.ALIAS_CHAMPION] == "2"


def test_only_an_awaiting_version_can_be_approved(model):
    client, name = model
    with pytest.raises(RegistryError, match="v2 is not awaiting approval"):
        approvals.approve(client, name, "2", actor="alice", reason="ok")


def test_reject_ends_the_wait_and_keeps_the_champion(model, event_sink):
    client, name = model
    awaiting(client, name, "2")
    client.set_registered_model_alias(name, names.ALIAS_CHALLENGER, "2")
    approvals.reject(client, name, "2", actor="carol", reason="recall too low for the campaign")
    assert current(client, name) == {names.ALIAS_CHAMPION: "1"}
    found = client.get_model_version(name, "2")
    assert found.tags[names.TAG_STATUS] == names.STATUS_REJECTED
    assert found.description.startswith("REJECTED by carol (")
    assert "recall too low for the campaign (champion: v1)." in found.description
    assert event_sink.kinds() == [events.APPROVAL_REJECTED]


def test_an_overdue_approval_expires_and_cannot_be_approved(model, event_sink):
    client, name = model
    awaiting(client, name, "2", expires_in_hours=1)
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert approvals.expire_overdue(client, name, actor="t", now=datetime.now(timezone.utc)) == []
    with pytest.raises(RegistryError, match="approval expired"):
        approvals.approve(client, name, "2", actor="alice", reason="late", now=later)
    assert client.get_model_version(name, "2").tags[names.TAG_STATUS] == names.STATUS_EXPIRED
    assert current(client, name)[names.ALIAS_CHAMPION] == "1"
    assert history(client, name, "2") == [names.AUDIT_EXPIRE]
    assert event_sink.kinds() == [events.APPROVAL_EXPIRED]


def test_a_version_an_operator_promoted_meanwhile_does_not_expire(model):
    client, name = model
    awaiting(client, name, "2", expires_in_hours=1)
    aliases.promote(client, name, "2", actor="bob", reason="on my authority")
    assert approvals.expire_overdue(client, name, actor="t", now=datetime.now(timezone.utc) + timedelta(hours=2)) == []
    assert client.get_model_version(name, "2").tags[names.TAG_STATUS] == names.STATUS_AWAITING_APPROVAL
