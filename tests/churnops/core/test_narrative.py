"""The registry's words (churnops.core.narrative): each version's role now, the champion first on the model."""

from __future__ import annotations

import pytest

from churnops.core import narrative
from churnops.core.narrative import VersionFacts

AT = {"v1": "2026-03-01T05:00:10+00:00", "v2": "2026-03-02T06:00:20+00:00", "back": "2026-03-03T07:30:40+00:00"}
GATE = dict(status="passed", action="promote", reason="beats the champion",
            decided="2026-03-02T06:00:20+00:00 by training-run:abc", dataset="telco_customer_churn@454ee810",
            metric="roc_auc", score=0.8443, compared_with="1", test_rows=1409)


def history(*entries: tuple[str, str, str, str]) -> list[dict]:
    return [{"action": action, "by": by, "at": at, "reason": reason} for action, by, at, reason in entries]


# The registry after: v1 promoted by the gate, v2 promoted over it, then an operator's rollback to v1.
ROLLED_BACK = {
    "1": VersionFacts("1", history(("promote", "training-run:a", AT["v1"], "no champion yet"),
                                   ("demoted", "training-run:b", AT["v2"], "champion moved to v2: beats the champion"),
                                   ("rollback", "ana@host", AT["back"], "INC-7: v2 over-predicts churn")),
                      **{**GATE, "compared_with": "none", "decided": AT["v1"] + " by training-run:a"}),
    "2": VersionFacts("2", history(("promote", "training-run:b", AT["v2"], "beats the champion"),
                                   ("rolled-back", "ana@host", AT["back"],
                                    "champion moved to v1: INC-7: v2 over-predicts churn")),
                      **GATE),
}
AFTER_ROLLBACK = {"champion": "1", "candidate-latest": "2"}


def test_after_a_rollback_the_model_description_opens_with_the_current_champion_and_the_reason():
    text = narrative.model_description("churn-classifier", AFTER_ROLLBACK, ROLLED_BACK)
    first = text.split(". ", 1)[0]
    assert first == "Champion: v1 since 2026-03-03 07:30 UTC (rollback by ana@host)", text
    assert "Why: INC-7: v2 over-predicts churn." in text
    assert "rollback` target): none." in text
    lines = text.splitlines()
    moves = lines[lines.index("Last moves, newest first:") + 1:]
    assert moves == ["- 2026-03-03 07:30 UTC: champion rolled back to v1 by ana@host: INC-7: v2 over-predicts churn",
                     "- 2026-03-02 06:00 UTC: v2 promoted to champion by training-run:b: beats the champion",
                     "- 2026-03-01 05:00 UTC: v1 promoted to champion by training-run:a: no champion yet"]


@pytest.mark.parametrize(("version", "aliases", "start"), [
    ("1", AFTER_ROLLBACK, "CHAMPION since 2026-03-03 07:30 UTC (rollback by ana@host): INC-7"),
    ("2", AFTER_ROLLBACK, "ROLLED BACK - not serving since 2026-03-03 07:30 UTC by ana@host: champion moved to v1"),
    ("2", {"champion": "2", "previous-champion": "1"}, "CHAMPION since 2026-03-02 06:00 UTC (promoted by training-run:b)"),
    ("1", {"champion": "2", "previous-champion": "1"}, "PREVIOUS CHAMPION - not serving since 2026-03-02 06:00 UTC"),
    ("1", {"champion": "3"}, "SUPERSEDED - not serving since 2026-03-02 06:00 UTC"),
])
def test_the_status_line_says_the_role_the_version_has_now(version, aliases, start):
    facts = ROLLED_BACK[version]
    if version == "1" and aliases.get("champion") != "1":  # the rollback has not happened in these registries
        facts = VersionFacts("1", facts.history[:2], **{**GATE, "compared_with": "none"})
    if version == "2" and aliases.get("champion") == "2":
        facts = VersionFacts("2", facts.history[:1], **GATE)
    assert narrative.status_line(facts, aliases).startswith(start)


@pytest.mark.parametrize(("facts", "aliases", "start"), [
    (VersionFacts("3", status="failed", action="challenger"), {"champion": "1", "challenger": "3"},
     "CHALLENGER - failed the gate, not serving (champion: v1)"),
    (VersionFacts("3", status="failed", action="challenger"), {"champion": "1", "challenger": "4"},
     "FAILED THE GATE - not serving (champion: v1)"),
    (VersionFacts("4", status="pending"), {"champion": "1"}, "PENDING - registered, not yet decided"),
    (VersionFacts("4"), {}, "PENDING - registered, not yet decided"),
])
def test_versions_that_never_served_say_why(facts, aliases, start):
    assert narrative.status_line(facts, aliases).startswith(start)


def test_the_gate_record_is_dated_and_claims_no_role():
    text = narrative.version_description(ROLLED_BACK["2"], AFTER_ROLLBACK)
    status, record = text.split("\n\n")
    assert record == ("Validation gate, 2026-03-02 06:00 UTC by training-run:abc: passed and was promoted - beats the "
                      "champion. v2 trained on telco_customer_churn@454ee810; holdout roc_auc 0.8443; compared with v1 "
                      "on the same 1409 holdout rows.")
    assert status.startswith("ROLLED BACK - not serving") and "CHAMPION" not in text and "promoted to" not in text


@pytest.mark.parametrize(("facts", "expected"), [
    (VersionFacts("1"), "No champion: no version serves `@champion`."),
])
def test_a_model_without_champion_says_so_first(facts, expected):
    assert narrative.model_description("m", {}, {"1": facts}).startswith(expected)


def test_a_new_case_is_one_function_in_the_case_list(monkeypatch):
    """What issue 27's statuses (awaiting approval ...) add: a case before the generic ones."""
    def awaiting(view):
        return "AWAITING APPROVAL - passed the gate." if view.facts.action == "awaiting-approval" else None

    monkeypatch.setattr(narrative, "CASES", [awaiting, *narrative.CASES])
    facts = VersionFacts("5", status="passed", action="awaiting-approval")
    assert narrative.status_line(facts, {"champion": "1"}) == "AWAITING APPROVAL - passed the gate."


AWAITING = dict(GATE, status="awaiting-approval", action="await-approval", expires="2026-03-05T06:00:20+00:00",
                card="#/experiments/1/runs/abc/artifactPath/card/model-card.html")


@pytest.mark.parametrize(("facts", "held", "start"), [
    (VersionFacts("2", history(("await-approval", "training-run:b", AT["v2"], "beats the champion")), **AWAITING),
     {"challenger": "2"},
     "AWAITING APPROVAL - passed the gate; waits for `churnops models approve --version 2 --reason TEXT` "
     "(or `models reject`) until 2026-03-05T06:00:20+00:00 (champion: v1)."),
    (VersionFacts("2", history(("reject", "carol", AT["back"], "recall too low.")), **{**AWAITING, "status": "rejected"}),
     {}, "REJECTED by carol (2026-03-03 07:30 UTC): recall too low (champion: v1)."),
    (VersionFacts("2", history(("expire", "t", AT["back"], "late")), **{**AWAITING, "status": "expired"}),
     {}, "EXPIRED (2026-03-03 07:30 UTC): nobody approved it by 2026-03-05T06:00:20+00:00 (champion: v1)."),
    (VersionFacts("2", history(("approve", "alice", AT["back"], "card reviewed")), **{**AWAITING, "status": "passed"}),
     {"champion": "2"}, "CHAMPION since 2026-03-03 07:30 UTC (approved by alice): card reviewed."),
])
def test_the_approval_policy_states_read_as_the_role_now_and_link_the_card(facts, held, start):
    text = narrative.version_description(facts, {"champion": "1", **held})
    assert text.split("\n\n")[0] == start, text
    assert text.endswith("\n\n[Model card](#/experiments/1/runs/abc/artifactPath/card/model-card.html)")
