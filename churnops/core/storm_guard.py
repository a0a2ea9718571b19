"""When a drifted scoring batch may start a retraining run: at most one triggered retrain per window (pure).

The guard's state lives in KFP, next to the runs it guards, as *claims*: one KFP experiment per
triggered retrain, named `<target>-drift-retrain-<NNNNNN>` with a sequence number. KFP keeps
experiment names unique per namespace (409 on a duplicate), so taking the next number is a
compare-and-set: of two scoring runs that read the same latest claim and both try claim N+1,
exactly one is created; the other is told it lost and triggers nothing. Listing recent runs and
then creating one (a check-then-act on the runs themselves, or on an MLflow tag) has no such
primitive: two runs started together would both see "nothing in the window" and both trigger.

The window is measured from the latest claim's creation time as the KFP API server recorded it.
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


def parse_claims(target: str, experiments: list[tuple[str, float]]) -> list[Claim]:
    """The claims of `target` among (experiment name, created epoch) pairs, oldest sequence first."""
    pattern = re.compile(re.escape(claim_prefix(target)) + r"(\d{6,})$")
    claims = [Claim(int(match.group(1)), name, created)
              for name, created in experiments if (match := pattern.match(name))]
    return sorted(claims, key=lambda claim: claim.sequence)


def decide(verdict: str, enabled: bool, claims: list[Claim], now: float, window_seconds: int) -> Decision:
    """Trigger only on `drifted`, when enabled, and when no claim is younger than the window."""
    if verdict != "drifted":
        return Decision(SKIP, f"verdict is {verdict}: only a drifted batch triggers retraining")
    if not enabled:
        return Decision(SKIP, "drifted, but retrain_on_drift is off: nothing triggered")
    latest = claims[-1] if claims else None
    if latest is not None and now - latest.created_epoch < window_seconds:
        left = int(window_seconds - (now - latest.created_epoch))
        return Decision(SKIP, f"storm guard: {latest.name} triggered a retrain {int(now - latest.created_epoch)} s ago, "
                              f"within the {window_seconds} s window ({left} s left)")
    return Decision(TRIGGER, "drifted, and no triggered retrain within the window",
                    (latest.sequence if latest else 0) + 1)
