"""What the registry says in words: the registered model's and each version's description. Pure, no MLflow.

Written on every alias move (churnops.registry.narrative builds the facts, churnops.registry.journal
writes the texts in the same journal entry as the move), so the MLflow model page never names a
champion the `champion` alias no longer points at.

- `model_description`: the current champion first (since when, by whom, why - a rollback's reason
  included), then the previous champion (the rollback target) and the last moves, one line each.
- `version_description`: a status line saying the role the version has *now* (decided by the
  CASES below, first match wins), then the gate's decision as a dated record.

A new kind of move (an approval step, a guard that reverts) is a new case function in CASES and,
if it moves `champion`, a phrase in MOVE_PHRASES; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from churnops import names

CHAMPION, PREVIOUS, CHALLENGER = names.ALIAS_CHAMPION, names.ALIAS_PREVIOUS_CHAMPION, names.ALIAS_CHALLENGER
RECOVERED = "recovered"  # a journal replay, not a move of its own
RECENT_MOVES = 5  # lines of history in the registered model's description


@dataclass(frozen=True)
class VersionFacts:
    """One version as the registry knows it (after the move being written)."""

    version: str
    history: list[dict] = field(default_factory=list)  # audit entries, oldest first: action, by, at, reason
    status: str = ""  # validation_status
    action: str = ""  # validation_action of the gate
    reason: str = ""  # validation_reason
    decided: str = ""  # validation_decided: "<when> by <who>"
    dataset: str = ""  # name@digest of the training data
    metric: str = ""  # the gate's primary metric
    score: float | None = None  # the candidate's score on it, re-scored by the gate
    compared_with: str = ""  # the champion version the gate compared with ("" or "none": none)
    test_rows: int | None = None
    expires: str = ""  # approval_expires of the gate's evidence (the `approval` policy)
    card: str = ""  # the model card's link in the MLflow UI ("" when the version has no run)


@dataclass(frozen=True)
class View:
    """What a case sees: the version's facts and where every alias points after the move."""

    facts: VersionFacts
    aliases: Mapping[str, str]

    @property
    def held(self) -> set[str]:
        return {alias for alias, version in self.aliases.items() if version == self.facts.version}

    @property
    def last(self) -> dict:
        """The version's latest audit entry that moved something ({} when none)."""
        moves = [entry for entry in self.facts.history if entry.get("action") != RECOVERED]
        return moves[-1] if moves else {}

    @property
    def champion(self) -> str | None:
        return self.aliases.get(CHAMPION)


def when(at: str) -> str:
    """`2026-03-01T05:02:33+00:00` -> `2026-03-01 05:02 UTC` (audit times are UTC ISO strings)."""
    if len(at) >= 16 and at[10] == "T":
        return f"{at[:10]} {at[11:16]} UTC"
    return at or "an unknown time"


def _why(entry: dict) -> str:
    reason = str(entry.get("reason") or "").strip().rstrip(".")
    return f": {reason}" if reason else ""


def _by(entry: dict) -> str:
    return f" by {entry['by']}" if entry.get("by") else ""


# How a move into `champion` reads, by the audit action of the version that became champion.
MOVE_PHRASES = {"promote": "promoted by {by}", "rollback": "rollback by {by}", "approve": "approved by {by}"}


def how(entry: dict) -> str:
    """`promoted by ana@host`: the move that made a version champion, and who made it."""
    phrase = MOVE_PHRASES.get(entry.get("action", ""), entry.get("action", "moved") + " by {by}")
    return phrase.format(by=entry.get("by") or "an unknown actor")


def _champion(view: View) -> str | None:
    if CHAMPION not in view.held:
        return None
    last = view.last
    if not last:
        return "CHAMPION - serves `@champion` (no recorded move)."
    return f"CHAMPION since {when(last.get('at', ''))} ({how(last)}){_why(last)}."


def _previous(view: View) -> str | None:
    if PREVIOUS not in view.held:
        return None
    last = view.last
    since = f" since {when(last['at'])}" if last.get("action") in ("demoted", "rolled-back") else ""
    return (f"PREVIOUS CHAMPION - not serving{since}; the target of `churnops models rollback` "
            f"(champion: v{view.champion or '-'}).")


def _moved_away(action: str, label: str) -> "Case":
    """The case of a version whose last move (`action`) took it off `champion`."""
    def case(view: View) -> str | None:
        last = view.last
        if last.get("action") != action:
            return None
        return (f"{label} - not serving since {when(last.get('at', ''))}{_by(last)}{_why(last)} "
                f"(champion: v{view.champion or '-'}).")

    return case


# The `approval` policy (issue 27): a version that passed the gate waits for a person, then is approved
# (it becomes champion: the champion case), rejected, or expires.
APPROVAL_LINES = {
    names.STATUS_AWAITING_APPROVAL: "AWAITING APPROVAL - passed the gate; waits for `churnops models approve "
                                    "--version {version} --reason TEXT` (or `models reject`) until {expires}",
    names.STATUS_REJECTED: "REJECTED by {by} ({at}): {reason}",
    names.STATUS_EXPIRED: "EXPIRED ({at}): nobody approved it by {expires}",
}
APPROVAL_ENDS = {names.STATUS_REJECTED: "reject", names.STATUS_EXPIRED: "expire"}  # their audit actions


def approval_line(status: str, *, version: str, by: str = "", at: str = "", reason: str = "", expires: str = "") -> str:
    return APPROVAL_LINES[status].format(version=version, by=by or "an unknown actor", at=at,
                                         reason=reason.strip().rstrip("."), expires=expires or "-")


def _approval(view: View) -> str | None:
    status = view.facts.status
    if status not in APPROVAL_LINES:
        return None
    ended = [entry for entry in view.facts.history if entry.get("action") == APPROVAL_ENDS.get(status)]
    entry = ended[-1] if ended else {}
    line = approval_line(status, version=view.facts.version, by=entry.get("by", ""), at=when(entry.get("at", "")),
                         reason=entry.get("reason", ""), expires=view.facts.expires)
    return f"{line} (champion: v{view.champion or '-'})."


def _challenger(view: View) -> str | None:
    if CHALLENGER not in view.held:
        return None
    return f"CHALLENGER - failed the gate, not serving (champion: v{view.champion or '-'})."


def _decided_not_serving(view: View) -> str | None:
    status = view.facts.status
    if status == names.STATUS_FAILED:
        return f"FAILED THE GATE - not serving (champion: v{view.champion or '-'})."
    if status == names.STATUS_PASSED:  # passed, then moved away by a move that left no entry here
        return f"NOT SERVING - passed the gate; champion: v{view.champion or '-'}."
    return None


def _pending(view: View) -> str | None:
    if view.facts.status in ("", names.STATUS_PENDING):
        return "PENDING - registered, not yet decided by the validation gate."
    return None


Case = Callable[[View], "str | None"]
# First match wins: aliases held now, then the version's last move, then the gate's status.
CASES: list[Case] = [_champion, _previous, _approval, _challenger, _moved_away("rolled-back", "ROLLED BACK"),
                     _moved_away("demoted", "SUPERSEDED"), _decided_not_serving, _pending]


def status_line(facts: VersionFacts, aliases: Mapping[str, str]) -> str:
    view = View(facts, aliases)
    for case in CASES:
        if (text := case(view)) is not None:
            return text
    return f"NOT SERVING (champion: v{view.champion or '-'})."


def gate_record(facts: VersionFacts) -> str:
    """The gate's decision on this version as a dated record (past tense: it claims no role now)."""
    if not facts.status or facts.status == names.STATUS_PENDING:
        return ""
    decided = facts.decided.split(" by ", 1)
    at = when(decided[0]) if decided[0] else "an unknown time"
    who = f" by {decided[1]}" if len(decided) > 1 else ""
    verdict = {"promote": "passed and was promoted", "challenger": "failed (kept as challenger)",
               "conflict": "not moved (the champion changed during its run)",
               "await-approval": "passed (the `approval` policy: champion unchanged until approved)"}.get(
        facts.action, facts.status)
    reason = facts.reason.strip().rstrip(".")
    score = "-" if facts.score is None else f"{facts.score:.4f}"
    compared = (f"compared with v{facts.compared_with}" + (f" on the same {facts.test_rows} holdout rows"
                                                           if facts.test_rows else "")
                if facts.compared_with not in ("", "none") else "no champion to compare with")
    return (f"Validation gate, {at}{who}: {verdict}" + (f" - {reason}" if reason else "") + ". "
            f"v{facts.version} trained on {facts.dataset or 'unknown data'}; holdout {facts.metric or 'metric'} "
            f"{score}; {compared}.")


def version_description(facts: VersionFacts, aliases: Mapping[str, str]) -> str:
    """Status line (the role now), then the gate's record, then the link to the model card."""
    parts = [status_line(facts, aliases), gate_record(facts), f"[Model card]({facts.card})" if facts.card else ""]
    return "\n\n".join(part for part in parts if part)


# How a move reads in the registered model's history, by the audit action of the version it names.
# The other side of a move (`demoted`, `rolled-back`) and journal replays are not lines of their own.
HISTORY_PHRASES = {"promote": "v{version} promoted to champion", "rollback": "champion rolled back to v{version}",
                   "approve": "v{version} approved and promoted to champion"}
MIRRORED = frozenset({"demoted", "rolled-back", RECOVERED})


def moves(versions: Mapping[str, VersionFacts]) -> list[tuple[str, str, dict]]:
    """Every audit entry that is a move of its own, newest first: (at, version, entry)."""
    found = [(entry.get("at", ""), facts.version, entry) for facts in versions.values() for entry in facts.history
             if entry.get("action") not in MIRRORED]
    return sorted(found, key=lambda item: (item[0], int(item[1]) if item[1].isdigit() else 0), reverse=True)


def _move_line(at: str, version: str, entry: dict) -> str:
    what = HISTORY_PHRASES.get(entry.get("action", ""), "{action} v{version}").format(
        version=version, action=entry.get("action", "?"))
    return f"- {when(at)}: {what}{_by(entry)}{_why(entry)}"


def model_description(model_name: str, aliases: Mapping[str, str], versions: Mapping[str, VersionFacts]) -> str:
    """The registered model's description: the champion first, the rollback target, the last moves."""
    champion, previous, challenger = aliases.get(CHAMPION), aliases.get(PREVIOUS), aliases.get(CHALLENGER)
    if champion:
        facts = versions.get(champion, VersionFacts(champion))
        last = View(facts, aliases).last
        head = f"Champion: v{champion}"
        if last:
            reason = str(last.get("reason") or "no reason recorded").strip().rstrip(".")
            head += f" since {when(last.get('at', ''))} ({how(last)}). Why: {reason}"
        lines = [head + "." + (f" Trained on {facts.dataset}." if facts.dataset else "")]
    else:
        lines = ["No champion: no version serves `@champion`."]
    lines += ["", f"Previous champion (the `churnops models rollback` target): {f'v{previous}' if previous else 'none'}."
              + (f" Challenger: v{challenger}." if challenger else "")
              + f" Serve `models:/{model_name}@{CHAMPION}`; trained and gated by churnops."]
    recent = moves(versions)[:RECENT_MOVES]
    if recent:
        lines += ["", "Last moves, newest first:"] + [_move_line(*item) for item in recent]
    return "\n".join(lines)
