"""What the CLI shows: `churnops models list|show`, and what a training run produced, read back from MLflow.

MLflow is the source of truth, not the run's logs.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from churnops import names
from churnops.core.evaluation import METRIC_NAMES
from churnops.errors import RegistryError
from churnops.registry.aliases import get_version

KEY_METRICS = ("roc_auc", "f1", "log_loss")
# roc_auc: each version on its own holdout; champion_set_roc_auc: on the champion's holdout rows,
# the one column that compares versions trained on different data (n/a: it cannot score those rows).
CHAMPION_SET = "champion_set_roc_auc"
COLUMNS = ("version", "aliases", "validation_status", CHAMPION_SET, "roc_auc", "f1", "log_loss", "source_run", "created")


def _registered(client: mlflow.MlflowClient, model_name: str):
    try:
        return client.get_registered_model(model_name)
    except MlflowException:
        names = [model.name for model in client.search_registered_models()]
        raise RegistryError(
            f"No registered model {model_name!r} in this tracking store (models: {names or 'none'}). "
            "Pass --model-name, or --tracking-uri for another store."
        ) from None


def champion_version(client: mlflow.MlflowClient, model_name: str) -> str:
    """The champion's version number; a clear error when there is none."""
    version = {a: str(n) for a, n in _registered(client, model_name).aliases.items()}.get(names.ALIAS_CHAMPION)
    if version is None:
        raise RegistryError(f"{model_name} has no champion yet; pass --version N.")
    return version


def _json_tag(tags: dict[str, str], key: str) -> dict:
    try:
        value = json.loads(tags.get(key) or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _metric(tags: dict[str, str], name: str) -> float | None:
    # The gate's re-scored value when there is one, else the evaluation step's; the JSON tags of
    # issue 13 first, then the one-tag-per-metric set of older versions.
    value = (_json_tag(tags, names.TAG_VALIDATION_METRICS).get("candidate", {}).get(name)
             if names.TAG_VALIDATION_METRICS in tags else None)
    if value is None:
        value = _json_tag(tags, names.TAG_TEST_METRICS).get(name)
    if value is None:
        value = tags.get(f"{names.TAG_VALIDATION_PREFIX}candidate_{name}", tags.get(f"{names.TAG_TEST_METRIC_PREFIX}{name}"))
    return round(float(value), 4) if value not in (None, "") else None


def decision_of(tags: dict[str, str]) -> dict[str, Any]:
    """The gate's decision from either tag set: issue 13's few JSON tags or the older validation_* per-field tags."""
    decision = {key.removeprefix(names.TAG_VALIDATION_PREFIX): value for key, value in sorted(tags.items())
                if key.startswith(names.TAG_VALIDATION_PREFIX)
                and key not in (names.TAG_VALIDATION_METRICS, names.TAG_VALIDATION_EVIDENCE)}
    decision.update({key: str(value) for key, value in sorted(_json_tag(tags, names.TAG_VALIDATION_EVIDENCE).items())})
    for side, values in sorted(_json_tag(tags, names.TAG_VALIDATION_METRICS).items()):
        decision.update({f"{side}_{name}": str(value) for name, value in sorted(values.items())})
    return dict(sorted(decision.items()))


def _created(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, timezone.utc).isoformat(timespec="seconds")


def version_row(version, aliases: dict[str, str]) -> dict[str, Any]:
    tags = version.tags
    return {
        "version": str(version.version),
        "aliases": sorted(alias for alias, number in aliases.items() if number == str(version.version)),
        "validation_status": tags.get(names.TAG_STATUS, ""),
        **{name: _metric(tags, name) for name in KEY_METRICS},
        "source_run": version.run_id,
        "created": _created(version.creation_timestamp),
    }


def list_versions(client: mlflow.MlflowClient, model_name: str, rescore: bool = True) -> list[dict[str, Any]]:
    """Every version, newest first; with `rescore`, each one's ROC AUC on the champion's holdout rows."""
    registered = _registered(client, model_name)
    aliases = {alias: str(number) for alias, number in registered.aliases.items()}
    versions = client.search_model_versions(f"name = '{model_name}'")
    rows = [version_row(version, aliases) for version in versions]
    champion = aliases.get(names.ALIAS_CHAMPION)
    holdout = champion_holdout(client, model_name, champion) if rescore and champion else None
    for row in rows:
        row[CHAMPION_SET] = None if holdout is None else score_on(model_name, row["version"], holdout)
    return sorted(rows, key=lambda row: int(row["version"]), reverse=True)


def champion_holdout(client: mlflow.MlflowClient, model_name: str, champion: str):
    """(x_test, y_test, threshold) the champion was evaluated on, or None when its run did not keep them."""
    import tempfile

    from churnops.steps.evaluate_model import HOLDOUT_DIR, HOLDOUT_X, HOLDOUT_Y
    from churnops.storage.datasets import read_features, read_target

    run_id = client.get_model_version(model_name, champion).run_id
    if not run_id:
        return None
    try:
        with tempfile.TemporaryDirectory() as folder:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=HOLDOUT_DIR, dst_path=folder)
            x_test = read_features(f"{local}/{HOLDOUT_X}")
            y_test = read_target(f"{local}/{HOLDOUT_Y}")
    except (MlflowException, OSError):
        return None  # a champion from before issue 13: its run kept no holdout
    threshold = float(client.get_run(run_id).data.params.get(names.PARAM_DECISION_THRESHOLD, 0.5))
    return x_test, y_test, threshold


def score_on(model_name: str, version: str, holdout) -> float | str:
    from churnops.errors import ChurnopsError
    from churnops.steps.promote_model import score

    x_test, y_test, threshold = holdout
    try:
        return round(score(f"models:/{model_name}/{version}", x_test, y_test, threshold)["roc_auc"], 4)
    except (ChurnopsError, MlflowException, OSError, KeyError, ValueError):
        return "n/a"  # trained on other columns (another dataset) or not loadable here


def history(client: mlflow.MlflowClient, model_name: str, version: str | None) -> dict[str, Any]:
    """The whole audit trail of a version (default: the champion), from the artifact or, for older versions, the tag."""
    registered = _registered(client, model_name)
    if version is None:
        version = {a: str(n) for a, n in registered.aliases.items()}.get(names.ALIAS_CHAMPION)
        if version is None:
            raise RegistryError(f"{model_name} has no champion yet; pass --version N.")
    found = get_version(client, model_name, version)
    entries, source = json.loads(found.tags.get(names.TAG_AUDIT_HISTORY, "[]")), "tag"
    if found.run_id:
        from churnops.registry.journal import history_artifact_path

        try:
            entries = mlflow.artifacts.load_dict(
                f"runs:/{found.run_id}/{history_artifact_path(model_name, str(found.version))}")["history"]
            source = "artifact"
        except (MlflowException, OSError, KeyError):
            pass
    return {"model_name": model_name, "version": str(found.version), "source": source, "history": entries,
            "description": found.description or ""}


def format_history(details: dict[str, Any]) -> str:
    lines = [f"{details['model_name']} v{details['version']} audit history ({len(details['history'])} entries)"]
    lines += [f"  {e['at']}  {e['action']:<12} by {e['by']}: {e['reason']}" for e in details["history"]]
    return "\n".join(lines)


def show_version(client: mlflow.MlflowClient, model_name: str, version: str | None) -> dict[str, Any]:
    """One version (default: the champion) with its decision, metrics and audit trail."""
    registered = _registered(client, model_name)
    aliases = {alias: str(number) for alias, number in registered.aliases.items()}
    if version is None:
        version = aliases.get(names.ALIAS_CHAMPION)
        if version is None:
            raise RegistryError(f"{model_name} has no champion yet; pass --version N.")
    found = get_version(client, model_name, version)
    row = version_row(found, aliases)
    tags = dict(found.tags)
    history = json.loads(tags.pop(names.TAG_AUDIT_HISTORY, "[]"))
    return {
        **row,
        "model_name": model_name,
        "model_uri": f"models:/{model_name}/{found.version}",
        "source": found.source,
        "description": found.description or "",
        "decision": decision_of(tags),
        "tags": {key: value for key, value in sorted(tags.items()) if not key.startswith(names.TAG_VALIDATION_PREFIX)},
        "audit": history,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(value) or "-"
        if value is None or value == "":
            return "-"
        return str(value)

    table = [list(COLUMNS)] + [[cell(row[column]) for column in COLUMNS] for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(COLUMNS))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() for line in table)


def format_show(details: dict[str, Any]) -> str:
    lines = [f"{details['model_name']} v{details['version']}  aliases: {', '.join(details['aliases']) or '-'}"]
    if details.get("description"):
        lines.append(f"  description: {details['description']}")
    for key in ("validation_status", "roc_auc", "f1", "log_loss", "source_run", "created", "source"):
        lines.append(f"  {key}: {details[key] if details[key] is not None else '-'}")
    if details["decision"]:
        lines.append("  decision:")
        lines += [f"    {key}: {value}" for key, value in details["decision"].items()]
    if details["audit"]:
        lines.append("  audit:")
        lines += [f"    {entry['at']} {entry['action']} by {entry['by']}: {entry['reason']}" for entry in details["audit"]]
    return "\n".join(lines)


def training_summary(tracking_uri: str, model_name: str, version: str) -> dict[str, Any]:
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    model_version = client.get_model_version(model_name, version)
    run = client.get_run(model_version.run_id)
    registered = client.get_registered_model(model_name)
    return {
        "run_id": model_version.run_id,
        "experiment_id": run.info.experiment_id,
        "model_name": model_name,
        "model_version": str(model_version.version),
        "model_uri": f"models:/{model_name}/{model_version.version}",
        "logged_model_uri": model_version.source,
        "metrics": {name: run.data.metrics.get(f"test_{name}") for name in METRIC_NAMES},
        "aliases": {alias: str(number) for alias, number in sorted(registered.aliases.items())},
        "tags": dict(sorted(model_version.tags.items())),
        "validation_status": model_version.tags.get(names.TAG_STATUS, ""),
        "created_ms": int(model_version.creation_timestamp),
        "tracking_uri": tracking_uri,
    }
