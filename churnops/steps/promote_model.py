"""Step `promote_model`: the validation gate, on plain paths.

Re-scores the candidate and the current champion on this run's test set with the same code,
applies churnops.core.promotion.decide, moves the aliases (churnops.registry.aliases) and records
the decision on the model version (tags), in the candidate's MLflow run, and as the step's output.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import mlflow

from churnops import cpus, defaults, events, names
from churnops.core import comparison as review
from churnops.core import evaluation, leakage, promotion
from churnops.core.fitting import typed_features
from churnops.errors import ChurnopsError
from churnops.registry import aliases, approvals, cards, guard, journal, locks, tracking
from churnops.registry.loading import feature_spec, load_pipeline
from churnops.storage.datasets import read_features, read_target

TAG_PREFIX = names.TAG_VALIDATION_PREFIX


def probabilities(model_uri: str, x_test_raw):
    """Churn probabilities of a registered model on raw test rows, with its own feature spec."""
    model = load_pipeline(model_uri, cpus.cpu_budget())
    return model.predict_proba(typed_features(x_test_raw, feature_spec(model_uri)))[:, 1]


def score(model_uri: str, x_test_raw, y_test, threshold: float) -> dict[str, float]:
    """Metrics of a registered model on raw test rows, with its own feature spec."""
    return evaluation.compute_metrics(y_test, probabilities(model_uri, x_test_raw), threshold)


def decision_tags(decision: promotion.Decision, actor: str) -> dict[str, str]:
    """The decision as six version tags (names.VERSION_TAGS): the full record is promotion/decision.json."""
    evidence = {"compared_champion": decision.champion_version or "none", "primary_metric": decision.primary_metric,
                "tolerance": decision.tolerance, **decision.evidence}
    metrics = {"candidate": {k: round(v, 6) for k, v in sorted(decision.candidate_metrics.items())},
               "champion": {k: round(v, 6) for k, v in sorted((decision.champion_metrics or {}).items())}}
    return {
        names.TAG_STATUS: decision.status,
        names.TAG_VALIDATION_ACTION: decision.action,
        names.TAG_VALIDATION_REASON: decision.reason,
        names.TAG_VALIDATION_METRICS: json.dumps(metrics, sort_keys=True),
        names.TAG_VALIDATION_EVIDENCE: json.dumps(evidence, sort_keys=True, default=str),
        names.TAG_VALIDATION_DECIDED: f"{aliases.now()} by {actor}",
    }


def run_tags(decision: promotion.Decision) -> dict[str, str]:
    return {names.RUN_TAG_VALIDATION_STATUS: decision.status, names.RUN_TAG_PROMOTION_ACTION: decision.action}


def log_evidence(client: mlflow.MlflowClient, model_name: str, version: str, run_id: str,
                 decision: promotion.Decision, intervals: dict | None = None) -> None:
    """The decision in the candidate's MLflow run (metrics, decision.json): after the journal entry.

    `intervals`: the candidate's holdout metrics with 95% bootstrap intervals (the model card's)."""
    for name, value in (decision.champion_metrics or {}).items():
        client.log_metric(run_id, f"champion_test_{name}", value)
    client.log_dict(run_id, {**decision.to_dict(), "model_name": model_name, "model_version": version,
                             "intervals": intervals or {}}, cards.DECISION_ARTIFACT)


def run(
    x_test_path: str,
    y_test_path: str,
    run_id: str,
    tracking_uri: str,
    model_name: str,
    version: str,
    thresholds: dict[str, float],
    primary_metric: str,
    tolerance: float,
    threshold: float,
    actor: str = "",
    min_test_rows: int = defaults.PROMOTION_MIN_TEST_ROWS,
    min_class_rows: int = defaults.PROMOTION_MIN_CLASS_ROWS,
    seed: int = defaults.RANDOM_STATE,
    governance: promotion.Governance | dict | None = None,
) -> dict[str, Any]:
    """Decide and apply. Returns the decision (plus model_name/model_version) as a plain dict.

    `governance`: who moves the champion after a pass (`approval`: nobody until `churnops models
    approve`) and what the guard does (issue 27); recorded on the registered model for every reader."""
    policy = promotion.Policy(dict(thresholds), primary_metric, tolerance, min_test_rows, min_class_rows)
    if not isinstance(governance, promotion.Governance):
        governance = promotion.Governance.from_dict(governance)  # a bad value fails here, before anything is decided
    events.check()  # a bad CHURNOPS_EVENT_SINKS fails here, before anything is decided
    tracking.connect(tracking_uri)
    client = mlflow.MlflowClient()
    actor = actor or f"training-run:{run_id}"
    try:
        return _run(client, x_test_path, y_test_path, run_id, model_name, version, policy, governance, threshold,
                    actor, seed)
    finally:
        events.flush()  # bounded: the decision is already written whatever the sinks do


def _run(client, x_test_path, y_test_path, run_id, model_name, version, policy, governance, threshold, actor,
         seed) -> dict[str, Any]:
    journal.recover(client, model_name, actor)  # a promotion killed half-way is finished first
    client.set_registered_model_tag(model_name, names.TAG_POLICY, json.dumps(governance.to_dict(), sort_keys=True))
    # An alias moved outside churnops is found (and put back under `enforce`) before the gate reads the champion.
    guard.check(client, model_name, actor=actor, origin="gate", enforce=governance.guard == "enforce")
    approvals.expire_overdue(client, model_name, actor=actor, origin="gate")
    candidate = aliases.get_version(client, model_name, version)
    if candidate.tags.get(names.TAG_STATUS, names.STATUS_PENDING) != names.STATUS_PENDING:
        # A fingerprint match returned an existing, already decided version: nothing to do.
        return {"model_name": model_name, "model_version": str(version), "promoted": False, "action": "none",
                "status": candidate.tags[names.TAG_STATUS],
                "reason": f"v{version} was already decided ({candidate.tags[names.TAG_STATUS]}); "
                          "identical training inputs register nothing new"}
    x_test = read_features(x_test_path)
    y_test = read_target(y_test_path)
    candidate_uri = f"models:/{model_name}/{version}"
    candidate_scores = probabilities(candidate_uri, x_test)
    candidate_metrics = evaluation.compute_metrics(y_test, candidate_scores, threshold)
    spec = feature_spec(candidate_uri)
    feature_auc = leakage.single_feature_auc(typed_features(x_test, spec), y_test, spec, seed)
    intervals = review.metric_intervals(y_test, candidate_scores, threshold, seed) if y_test.nunique() == 2 else {}
    champion_version = aliases.alias_version(client, model_name, names.ALIAS_CHAMPION)
    champion_metrics = comparison = champion_error = None
    if champion_version is not None:
        try:
            champion_scores = probabilities(f"models:/{model_name}/{champion_version}", x_test)
            champion_metrics = evaluation.compute_metrics(y_test, champion_scores, threshold)
            if y_test.nunique() == 2:
                comparison = promotion.paired_bootstrap_auc(y_test, candidate_scores, champion_scores, seed)
        except ChurnopsError as exc:  # decided on the thresholds alone, and said so (promotion rule 6)
            champion_error = str(exc).splitlines()[0][:300]
            print(f"churnops promote: WARNING: the champion v{champion_version} cannot score this run's test set "
                  f"({champion_error}); deciding v{version} on the absolute thresholds alone", file=sys.stderr)
    test_set = test_set_digest(x_test_path, y_test_path)
    best_seen = promotion.best_of(policy.primary_metric, [
        stored_best(client.get_registered_model(model_name).tags, policy.primary_metric, test_set),
        (champion_metrics or {}).get(policy.primary_metric)])
    decision = promotion.decide(
        candidate_metrics, champion_version, champion_metrics,
        aliases.alias_version(client, model_name, names.ALIAS_CHAMPION), policy,
        holdout=(len(y_test), int(y_test.sum())), comparison=comparison, best_seen=best_seen,
        feature_auc=feature_auc, champion_error=champion_error,
    )
    if governance.promotion == "approval":
        expires = datetime.now(timezone.utc) + timedelta(hours=governance.approval_hours)
        decision = promotion.awaiting_approval(decision, expires.isoformat(timespec="seconds"))
    result = apply_decision(client, model_name, str(version), run_id, decision, actor, intervals=intervals)
    if result.get("promoted"):
        best_seen = promotion.best_of(policy.primary_metric, [best_seen, candidate_metrics.get(policy.primary_metric)])
    if best_seen is not None:
        # After the decision: a kill before this line loses no score that the next gate does not
        # re-read (it re-scores the champion, whose score is then included again).
        record_best(client, model_name, policy.primary_metric, test_set, best_seen)
    return result


def stored_best(tags: dict[str, str], metric: str, test_set: str) -> float | None:
    """The best champion score kept for this test set: the one JSON tag, or a tag of the old one-per-test-set kind."""
    kept = json.loads(tags.get(names.TAG_BEST_CHAMPION_SCORES) or "{}").get(metric, {}).get(test_set)
    if kept is None:
        kept = tags.get(f"{names.TAG_BEST_CHAMPION_PREFIX}{metric}.{test_set}")
    return float(kept) if kept is not None else None


def record_best(client, model_name: str, metric: str, test_set: str, score: float) -> None:
    """Keep `score` as the best on this test set, in the one registered-model tag (read-modify-write under the
    alias lock, so two gates on different test sets do not lose each other's), dropping an old-style tag."""
    with locks.alias_lock(aliases.store_uri(client), client, model_name):
        tags = client.get_registered_model(model_name).tags
        scores = json.loads(tags.get(names.TAG_BEST_CHAMPION_SCORES) or "{}")
        scores.setdefault(metric, {})[test_set] = round(score, 6)
        client.set_registered_model_tag(model_name, names.TAG_BEST_CHAMPION_SCORES, json.dumps(scores, sort_keys=True))
        legacy = f"{names.TAG_BEST_CHAMPION_PREFIX}{metric}.{test_set}"
        if legacy in tags:
            client.delete_registered_model_tag(model_name, legacy)


def test_set_digest(x_test_path: str, y_test_path: str) -> str:
    """The first 16 hex of the sha256 of this exact test set's files: the key of its best champion score."""
    digest = hashlib.sha256()
    for path in (x_test_path, y_test_path):
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def apply_decision(client, model_name: str, version: str, run_id: str, decision: promotion.Decision, actor: str,
                   intervals: dict | None = None) -> dict:
    """Move the aliases the decision calls for (re-checking the champion) and record it, as one journal entry;
    then the evidence, the model card, and the announcement."""
    with locks.alias_lock(aliases.store_uri(client), client, model_name):
        decision = _apply(client, model_name, version, run_id, decision, actor)
    log_evidence(client, model_name, version, run_id, decision, intervals)
    cards.log(client, model_name, version)
    client.set_registered_model_tag(model_name, names.TAG_LAST_DECISION, json.dumps(
        {"version": version, "status": decision.status, "at": aliases.now()}, sort_keys=True))
    announce(model_name, version, decision)
    return {**decision.to_dict(), "model_name": model_name, "model_version": version}


def announce(model_name: str, version: str, decision: promotion.Decision) -> None:
    subject = f"{model_name}/v{version}"
    events.emit(events.GATE_DECIDED, subject, {
        "model_name": model_name, "version": version, "status": decision.status, "action": decision.action,
        "reason": decision.reason, "champion_version": decision.champion_version,
        "candidate_metrics": decision.candidate_metrics, "approval_expires": decision.evidence.get("approval_expires"),
        "summary": f"{decision.status} ({decision.action}): {decision.reason}"}, "gate")
    if decision.promoted:
        events.emit(events.ALIAS_MOVED, subject, {"model_name": model_name, "aliases": {names.ALIAS_CHAMPION: version},
                                                 "replaced": decision.champion_version,
                                                 "summary": f"champion -> v{version} (gate)"}, "gate")


def _apply(client, model_name: str, version: str, run_id: str, decision: promotion.Decision,
           actor: str) -> promotion.Decision:
    # The descriptions (the model's and each touched version's) are the journal's: churnops.registry.narrative.
    if decision.promoted:
        try:
            aliases.move_champion(client, model_name, version, decision.champion_version,
                                  actor=actor, reason=decision.reason,
                                  version_tags=decision_tags(decision, actor),
                                  run_id=run_id, run_tags=run_tags(decision))
        except aliases.ChampionChangedError as exc:
            decision = promotion.decide(decision.candidate_metrics, decision.champion_version,
                                        decision.champion_metrics, exc.current,
                                        promotion.Policy({}, decision.primary_metric, decision.tolerance),
                                        champion_error=decision.evidence.get("champion_error"))
    if not decision.promoted:
        set_aliases = ({names.ALIAS_CHALLENGER: version}
                       if decision.action in (promotion.ACTION_CHALLENGER, promotion.ACTION_AWAIT_APPROVAL) else {})
        audits = ([{"version": version, "action": names.AUDIT_AWAIT, "by": actor, "reason": decision.reason}]
                  if decision.action == promotion.ACTION_AWAIT_APPROVAL else [])
        journal.execute(client, model_name, journal.plan(
            version, set_aliases=set_aliases, version_tags={version: decision_tags(decision, actor)}, audits=audits,
            run_id=run_id, run_tags=run_tags(decision), what=f"{decision.action} decision on v{version}"))
    return decision
