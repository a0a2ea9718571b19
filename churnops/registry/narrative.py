"""The descriptions an alias move writes, computed from the registry as it will be after the move.

churnops.registry.journal.execute calls `narrate` on every journal entry before writing it, so the
gate, `churnops models promote|rollback` and any later kind of move rewrite the registered model's
description and the description of every version whose role changed, in the same entry as the
move itself (a crash replays them with it). The words are churnops.core.narrative's.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from churnops import names
from churnops.core import narrative


def json_tag(tags: dict[str, str], key: str) -> dict:
    """A JSON-object tag as a dict ({} when absent or not an object)."""
    try:
        value = json.loads(tags.get(key) or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def card_link(experiment_id: str, run_id: str) -> str:
    """The model card in the MLflow UI (the run page's artifact view, which renders HTML), relative to the UI's root."""
    return f"#/experiments/{experiment_id}/runs/{run_id}/artifactPath/{names.CARD_HTML}"


def facts_from_tags(version: str, tags: dict[str, str], history: list[dict], dataset: str,
                    card: str = "") -> narrative.VersionFacts:
    """A version's facts from its tags: issue 13's JSON tags, or the one-tag-per-field set of older versions."""
    evidence = json_tag(tags, names.TAG_VALIDATION_EVIDENCE)
    metric = str(evidence.get("primary_metric") or "roc_auc")
    score = json_tag(tags, names.TAG_VALIDATION_METRICS).get("candidate", {}).get(metric)
    if score is None:
        score = tags.get(f"{names.TAG_VALIDATION_PREFIX}candidate_{metric}")
    try:
        score = float(score) if score not in (None, "") else None
    except ValueError:
        score = None
    rows = evidence.get("test_rows")
    return narrative.VersionFacts(
        version=str(version), history=history, status=tags.get(names.TAG_STATUS, ""),
        action=tags.get(names.TAG_VALIDATION_ACTION, ""), reason=tags.get(names.TAG_VALIDATION_REASON, ""),
        decided=tags.get(names.TAG_VALIDATION_DECIDED, ""), dataset=dataset, metric=metric, score=score,
        compared_with=str(evidence.get("compared_champion") or tags.get("validation_compared_champion") or ""),
        test_rows=int(rows) if isinstance(rows, (int, float)) else None,
        expires=str(evidence.get("approval_expires") or ""), card=card)


def _run_facts(client: mlflow.MlflowClient, run_id: str | None) -> tuple[str, str]:
    """(name@digest of the training data, the model card's link) from the version's source run."""
    if not run_id:
        return "", ""
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return "", ""  # a deleted run: the words say "unknown data"
    return run.data.tags.get(names.RUN_TAG_DATASET, ""), card_link(run.info.experiment_id, run_id)


def narrate(client: mlflow.MlflowClient, model_name: str, intent: dict[str, Any]) -> dict[str, Any]:
    """`intent` with the descriptions of the registry after it: the registered model's, and each version's
    whose aliases, audit trail or decision the intent changes (audit entries need their `at`)."""
    registered = client.get_registered_model(model_name)
    before = {alias: str(version) for alias, version in registered.aliases.items()}
    after = {**before, **{alias: str(version) for alias, version in intent["set_aliases"].items()}}
    for alias in intent["delete_aliases"]:
        after.pop(alias, None)
    new_entries: dict[str, list[dict]] = {}
    for entry in intent["audits"]:
        new_entries.setdefault(str(entry["version"]), []).append(
            {key: entry[key] for key in ("action", "by", "at", "reason") if key in entry})
    touched = {str(intent["version"]), *new_entries, *intent["version_tags"],
               *{v for alias, v in before.items() if after.get(alias) != v},
               *{v for alias, v in after.items() if before.get(alias) != v}}
    facts, runs = {}, {}
    for found in client.search_model_versions(f"name = '{model_name}'"):
        version = str(found.version)
        tags = {**found.tags, **intent["version_tags"].get(version, {})}
        history = json.loads(tags.get(names.TAG_AUDIT_HISTORY) or "[]") + new_entries.get(version, [])
        runs[version] = found.run_id
        facts[version] = (tags, history)
    from_runs = {version: _run_facts(client, runs.get(version)) for version in touched | {after.get(narrative.CHAMPION)}
                 if version in facts}
    versions = {version: facts_from_tags(version, tags, history, *from_runs.get(version, ("", "")))
                for version, (tags, history) in facts.items()}
    descriptions = {version: narrative.version_description(versions[version], after)
                    for version in sorted(touched) if version in versions}
    return {**intent, "descriptions": {**intent.get("descriptions", {}), **descriptions},
            "model_description": narrative.model_description(model_name, after, versions)}
