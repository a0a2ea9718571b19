"""The promotion policy: does a candidate version replace the `champion`? Pure, no MLflow here.

The rule (issue 4):
1. The candidate must pass every absolute threshold (e.g. roc_auc >= 0.75; for metrics where
   lower is better, such as log_loss, the threshold is a maximum).
2. It must not be worse than the current champion on the primary metric by more than
   `tolerance`, both scored on the same test set in the same run (the caller re-scores the
   champion; a number logged on another split is never compared).
3. No champion yet: the first passing version becomes champion.
4. The champion read before scoring must still be the champion right before the alias moves;
   otherwise another run promoted in between and this run refuses (optimistic concurrency).
5. Leakage (issue 25): a feature that alone predicts the target (single-feature ROC AUC >=
   max_feature_auc on the holdout) or an implausibly perfect holdout (ROC AUC >= max_holdout_auc)
   is never promoted; the reason names the columns.
6. A champion that cannot score this run's test set (it needs a column the data no longer has)
   does not block every later retrain: the candidate is decided on the absolute thresholds alone,
   and the reason says so (the operator reads it on the version and in `churnops train`'s output).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from churnops import defaults
from churnops.names import STATUS_AWAITING_APPROVAL, STATUS_FAILED, STATUS_PASSED

# Metrics where a smaller value is better; every other metric: larger is better.
LOWER_IS_BETTER = frozenset({"log_loss"})

# The decision's action: what happens to the aliases (tag validation_action).
ACTION_PROMOTE = "promote"  # candidate -> champion, old champion -> previous-champion
ACTION_CHALLENGER = "challenger"  # candidate -> the `challenger` alias, champion untouched
ACTION_CONFLICT = "conflict"  # champion moved during the run: nothing moves, rerun to compare again
ACTION_AWAIT_APPROVAL = "await-approval"  # passed, policy `approval`: `challenger` until a person decides


@dataclass(frozen=True)
class Governance:
    """Who moves the champion after the gate (issue 27), and what happens to a move made outside churnops.

    `promotion`: "auto" (the gate moves it) or "approval" (a person: `churnops models approve`
    within `approval_hours`, else the version expires). `guard`: "report" (announce an alias moved
    outside churnops) or "enforce" (also put it back; serving keeps the version churnops chose).
    """

    promotion: str = defaults.PROMOTION_MODE
    guard: str = defaults.GUARD_MODE
    approval_hours: float = defaults.APPROVAL_HOURS

    def __post_init__(self) -> None:
        if problems := governance_problems(self.promotion, self.guard, self.approval_hours):
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Governance:
        raw = raw or {}
        return cls(str(raw.get("promotion", defaults.PROMOTION_MODE)), str(raw.get("guard", defaults.GUARD_MODE)),
                   float(raw.get("approval_hours", defaults.APPROVAL_HOURS)))


def governance_problems(promotion: Any, guard: Any, approval_hours: Any) -> list[str]:
    """Each setting that is wrong, with the values allowed (empty: fine)."""
    problems = []
    if promotion not in defaults.PROMOTION_MODES:
        problems.append(f"promotion must be one of {', '.join(defaults.PROMOTION_MODES)}, got {promotion!r}")
    if guard not in defaults.GUARD_MODES:
        problems.append(f"promotion_guard must be one of {', '.join(defaults.GUARD_MODES)}, got {guard!r}")
    if isinstance(approval_hours, bool) or not isinstance(approval_hours, (int, float)) or not approval_hours > 0:
        problems.append(f"approval_hours must be a number of hours > 0, got {approval_hours!r}")
    return problems


def awaiting_approval(decision: Decision, expires_at: str) -> Decision:
    """A passing decision under the `approval` policy: nothing moves but `challenger`; a person decides by `expires_at`."""
    if not decision.promoted:
        return decision
    return Decision(STATUS_AWAITING_APPROVAL, ACTION_AWAIT_APPROVAL,
                    f"{decision.reason}; awaiting approval (policy `approval`) until {expires_at}",
                    decision.candidate_metrics, decision.champion_version, decision.champion_metrics,
                    decision.primary_metric, decision.tolerance, {**decision.evidence, "approval_expires": expires_at})


@dataclass(frozen=True)
class Policy:
    thresholds: dict[str, float] = field(default_factory=lambda: dict(defaults.PROMOTION_THRESHOLDS))
    primary_metric: str = defaults.PROMOTION_METRIC
    tolerance: float = defaults.PROMOTION_TOLERANCE
    min_test_rows: int = defaults.PROMOTION_MIN_TEST_ROWS
    min_class_rows: int = defaults.PROMOTION_MIN_CLASS_ROWS
    max_feature_auc: float = defaults.PROMOTION_MAX_FEATURE_AUC
    max_holdout_auc: float = defaults.PROMOTION_MAX_HOLDOUT_AUC

    def __post_init__(self) -> None:
        if self.tolerance < 0:
            raise ValueError(f"promotion tolerance must be >= 0, got {self.tolerance}")
        if self.min_test_rows < 0 or self.min_class_rows < 0:
            raise ValueError("the minimum holdout sizes must be >= 0")


BOOTSTRAP_RESAMPLES = 500


def paired_bootstrap_auc(y_true, candidate_scores, champion_scores, seed: int,
                         resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, float]:
    """ROC AUC of candidate minus champion on the same rows, with a 95% paired-bootstrap interval.

    Both models are resampled on the same row indices, so the interval is that of the difference
    (the rows' own difficulty cancels). Deterministic given `seed`.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true)
    a, b = np.asarray(candidate_scores), np.asarray(champion_scores)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        if y[rows].min() == y[rows].max():
            continue  # one class only: no AUC
        diffs.append(roc_auc_score(y[rows], a[rows]) - roc_auc_score(y[rows], b[rows]))
    low, high = (np.percentile(diffs, [2.5, 97.5]) if diffs else (float("nan"), float("nan")))
    return {"auc_difference": float(roc_auc_score(y, a) - roc_auc_score(y, b)), "auc_difference_low": float(low),
            "auc_difference_high": float(high), "bootstrap_resamples": len(diffs), "bootstrap_seed": seed}


def holdout_too_small(n_rows: int, n_positive: int, policy: Policy) -> str | None:
    """Why the holdout cannot tell a better model from a lucky one, or None when it is large enough."""
    n_negative = n_rows - n_positive
    problems = []
    if n_rows < policy.min_test_rows:
        problems.append(f"{n_rows} test rows (minimum {policy.min_test_rows})")
    if min(n_positive, n_negative) < policy.min_class_rows:
        problems.append(f"{n_positive} churners and {n_negative} non-churners (minimum {policy.min_class_rows} of each)")
    if not problems:
        return None
    return ("the holdout is too small to decide: " + "; ".join(problems) + ". Nothing was promoted; train on more "
            "data (or a larger --test-size), or lower the minimums deliberately")


@dataclass(frozen=True)
class Decision:
    status: str  # STATUS_PASSED / STATUS_FAILED: the model-version tag validation_status
    action: str  # ACTION_PROMOTE / ACTION_CHALLENGER / ACTION_CONFLICT
    reason: str
    candidate_metrics: dict[str, float]
    champion_version: str | None  # the champion the candidate was compared with
    champion_metrics: dict[str, float] | None
    primary_metric: str
    tolerance: float
    evidence: dict[str, Any] = field(default_factory=dict)  # what the decision rests on (holdout sizes ...)

    @property
    def promoted(self) -> bool:
        return self.action == ACTION_PROMOTE

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "promoted": self.promoted}


def better(metric: str, value: float, other: float) -> float:
    """How much `value` beats `other` on `metric` (negative when it is worse)."""
    return other - value if metric in LOWER_IS_BETTER else value - other


def best_of(metric: str, scores) -> float | None:
    """The best of `scores` for `metric` (None entries skipped; None when there are none)."""
    best = None
    for score in scores:
        if score is not None and (best is None or better(metric, float(score), best) > 0):
            best = float(score)
    return best


def threshold_failures(metrics: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """Each absolute threshold the metrics miss, as readable text."""
    failures = []
    for metric, bound in sorted(thresholds.items()):
        value = metrics.get(metric)
        if value is None:
            failures.append(f"{metric} was not computed (available: {sorted(metrics)})")
        elif metric in LOWER_IS_BETTER and value > bound:
            failures.append(f"{metric} {value:.4f} > maximum {bound}")
        elif metric not in LOWER_IS_BETTER and value < bound:
            failures.append(f"{metric} {value:.4f} < minimum {bound}")
    return failures


def leakage_reason(candidate_metrics: dict[str, float], feature_auc: dict[str, float], policy: Policy) -> str | None:
    """Why the candidate looks like it learned the answer (rule 5), or None."""
    leaks = {column: value for column, value in feature_auc.items() if value >= policy.max_feature_auc}
    if leaks:
        named = ", ".join(f"{column!r} (ROC AUC {value:.3f})" for column, value in leaks.items())
        return (f"leakage: {named} alone predict{'s' if len(leaks) == 1 else ''} the target on the holdout (limit "
                f"{policy.max_feature_auc}); such a column is known only with the outcome, so the model cannot score "
                "real customers. Drop it from the training data; nothing was promoted")
    holdout = candidate_metrics.get("roc_auc")
    if holdout is not None and holdout >= policy.max_holdout_auc:
        top = ", ".join(f"{column!r} {value:.3f}" for column, value in list(feature_auc.items())[:3]) or "none computed"
        return (f"implausibly perfect holdout: roc_auc {holdout:.4f} >= {policy.max_holdout_auc}; look for a column "
                f"derived from the target (strongest single features: {top}). Nothing was promoted")
    return None


def decide(
    candidate_metrics: dict[str, float],
    champion_version: str | None,
    champion_metrics: dict[str, float] | None,
    champion_now: str | None,
    policy: Policy = Policy(),
    holdout: tuple[int, int] | None = None,
    comparison: dict[str, float] | None = None,
    best_seen: float | None = None,
    feature_auc: dict[str, float] | None = None,
    champion_error: str | None = None,
) -> Decision:
    """Decide the candidate's fate.

    `best_seen`: the best primary-metric score any champion reached on this same test set (the
    caller keeps it, keyed by the test set's digest, and includes the current champion's score).
    A candidate more than the tolerance below it is never promoted, so a chain of promotions each
    within the tolerance of the one before cannot slide further than the tolerance.

    `champion_version`/`champion_metrics`: the champion as read and re-scored at the start of the
    step (None when there is none). `champion_now`: the champion re-read right before moving aliases.
    `holdout`: (test rows, churners among them); too few of either and nothing is decided.
    `comparison`: paired_bootstrap_auc of candidate vs champion; a candidate whose whole 95%
    interval of the ROC AUC difference is below 0 is significantly worse and never promoted,
    whatever the tolerance says.
    `feature_auc`: churnops.core.leakage.single_feature_auc on the holdout (rule 5).
    `champion_error`: why the champion could not score the holdout (rule 6); its metrics are None.
    """
    metric = policy.primary_metric
    evidence = {} if holdout is None else {"test_rows": holdout[0], "test_churners": holdout[1],
                                           "min_test_rows": policy.min_test_rows,
                                           "min_class_rows": policy.min_class_rows}
    evidence.update(comparison or {})
    if best_seen is not None:
        evidence[f"best_champion_{metric}"] = round(float(best_seen), 6)

    def result(status: str, action: str, reason: str) -> Decision:
        return Decision(status, action, reason, dict(candidate_metrics), champion_version,
                        dict(champion_metrics) if champion_metrics is not None else None, metric, policy.tolerance,
                        evidence)

    if holdout is not None and (small := holdout_too_small(holdout[0], holdout[1], policy)):
        return result(STATUS_FAILED, ACTION_CHALLENGER, small)
    if feature_auc:
        evidence["single_feature_auc"] = dict(list(feature_auc.items())[:5])
    if leaks := leakage_reason(candidate_metrics, feature_auc or {}, policy):
        return result(STATUS_FAILED, ACTION_CHALLENGER, leaks)
    if failures := threshold_failures(candidate_metrics, policy.thresholds):
        return result(STATUS_FAILED, ACTION_CHALLENGER, "below the absolute threshold: " + "; ".join(failures))
    if champion_version is None:
        verdict = "no champion yet: the first version that passes the thresholds becomes champion"
    elif champion_error is not None:
        evidence["champion_error"] = champion_error[:500]
        verdict = (f"the champion v{champion_version} cannot score this run's test set ({champion_error}); the "
                   "candidate was decided on the absolute thresholds alone, which it passes. Check why the champion "
                   "could not score (a column it needs is gone?)")
    else:
        if champion_metrics is None or metric not in champion_metrics or metric not in candidate_metrics:
            raise ValueError(f"primary metric {metric!r} missing from the candidate's or champion's metrics")
        margin = better(metric, candidate_metrics[metric], champion_metrics[metric])
        compared = (f"{metric} {candidate_metrics[metric]:.4f} vs champion v{champion_version} "
                    f"{champion_metrics[metric]:.4f} on the same test set (tolerance {policy.tolerance})")
        if margin < -policy.tolerance:
            return result(STATUS_FAILED, ACTION_CHALLENGER, f"worse than the champion: {compared}")
        if comparison and comparison["auc_difference_high"] < 0:
            return result(STATUS_FAILED, ACTION_CHALLENGER,
                          f"significantly worse than the champion: ROC AUC difference "
                          f"{comparison['auc_difference']:+.4f}, 95% paired-bootstrap interval "
                          f"[{comparison['auc_difference_low']:+.4f}, {comparison['auc_difference_high']:+.4f}] "
                          f"on the same {holdout[0] if holdout else ''} rows; {compared}")
        verdict = ("beats the champion: " if margin > 0 else "ties the champion within tolerance: ") + compared
    if best_seen is not None and metric in candidate_metrics:
        if better(metric, candidate_metrics[metric], best_seen) < -policy.tolerance:
            return result(STATUS_FAILED, ACTION_CHALLENGER,
                          f"more than the tolerance {policy.tolerance} below the best champion score seen on "
                          f"this test set: {metric} {candidate_metrics[metric]:.4f} vs {best_seen:.4f} "
                          "(promotions each within the tolerance must not slide further)")
    if champion_now != champion_version:
        return result(
            STATUS_FAILED, ACTION_CONFLICT,
            f"the champion changed during this run (v{champion_version} when scored, v{champion_now} now); "
            "nothing was moved. Rerun the training to compare against the new champion.",
        )
    return result(STATUS_PASSED, ACTION_PROMOTE, verdict)
