"""When a drifted scoring batch may start a retraining run: at most one triggered retrain per window (pure).

The guard's state lives in KFP, next to the runs it guards, as *claims*: one KFP experiment per
triggered retrain, named `<target>-drift-retrain-<NNNNNN>` with a sequence number. KFP keeps
experiment names unique per namespace (409 on a duplicate), so taking the next number is a
compare-and-set: of two scoring runs that read the same latest claim and both try claim N+1,
exactly one is created; the other is told it lost and triggers nothing. Listing recent runs and
then creating one (a check-then-act on the runs themselves, or on an MLflow tag) has no such
primitive: two runs started together would both see "nothing in the window" and both trigger.

The window is measured from the latest claim's creation time as the KFP API server recorded it.

Self-healing: a claim whose scoring run died between the claim and the run create (a killed pod)
would keep the window closed with nothing retraining. A claim names the run it starts
(`run_name`); a later drifted batch that finds the latest claim older than the grace with no run
of that name treats it as *abandoned* and takes claim N+1, through the same compare-and-set, so of
several takers exactly one wins. The claim's owner creates its run within the grace or not at all
(its create has a request timeout shorter than the grace: RETRAIN_RUN_CREATE_TIMEOUT_SECONDS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRIGGER = "trigger"
SKIP = "skip"
CLAIM_INFIX = "-drift-retrain-"
MAX_NAME = 128  # a KFP experiment name is a display name; keep well inside what the UI shows


@dataclass(frozen=True)
class Claim:
    sequence: int
    name: str
    created_epoch: float


@dataclass(frozen=True)
class Decision:
    action: str  # trigger | skip
    reason: str
    sequence: int = 0  # the claim to take when action == trigger

    def to_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "sequence": self.sequence}


def claim_prefix(target: str) -> str:
    return f"{target}{CLAIM_INFIX}"


def claim_name(target: str, sequence: int) -> str:
    name = f"{claim_prefix(target)}{sequence:06d}"
    if len(name) > MAX_NAME:
        raise ValueError(f"claim name {name!r} is longer than {MAX_NAME} characters; shorten the retrain target's name")
    return name


def run_name(target: str, sequence: int) -> str:
    """The display name of the retraining run claim `sequence` starts (what a taker looks for)."""
    return f"{target}-drift-{sequence:06d}"


def parse_claims(target: str, experiments: list[tuple[str, float]]) -> list[Claim]:
    """The claims of `target` among (experiment name, created epoch) pairs, oldest sequence first."""
    pattern = re.compile(re.escape(claim_prefix(target)) + r"(\d{6,})$")
    claims = [Claim(int(match.group(1)), name, created)
              for name, created in experiments if (match := pattern.match(name))]
    return sorted(claims, key=lambda claim: claim.sequence)


def is_stale(claim: Claim | None, now: float, window_seconds: int, grace_seconds: int) -> bool:
    """Whether `claim` closes the window but is old enough that, if it started no run, it is abandoned."""
    return claim is not None and grace_seconds <= now - claim.created_epoch < window_seconds


def decide(verdict: str, enabled: bool, claims: list[Claim], now: float, window_seconds: int,
           abandoned: bool = False, grace_seconds: int = 0) -> Decision:
    """Trigger only on `drifted`, when enabled, and when no claim is younger than the window, or the
    latest one is `abandoned` (older than the grace and its run never created: the caller checked)."""
    if verdict != "drifted":
        return Decision(SKIP, f"verdict is {verdict}: only a drifted batch triggers retraining")
    if not enabled:
        return Decision(SKIP, "drifted, but retrain_on_drift is off: nothing triggered")
    latest = claims[-1] if claims else None
    if abandoned and latest is not None:
        age = int(now - latest.created_epoch)
        return Decision(TRIGGER, f"drifted; {latest.name} was claimed {age} s ago and never started its run "
                                 f"(grace {grace_seconds} s): taking over", latest.sequence + 1)
    if latest is not None and now - latest.created_epoch < window_seconds:
        left = int(window_seconds - (now - latest.created_epoch))
        return Decision(SKIP, f"storm guard: {latest.name} triggered a retrain {int(now - latest.created_epoch)} s ago, "
                              f"within the {window_seconds} s window ({left} s left)")
    return Decision(TRIGGER, "drifted, and no triggered retrain within the window",
                    (latest.sequence if latest else 0) + 1)
