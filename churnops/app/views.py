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
COLUMNS = ("version", "aliases", "validation_status", "roc_auc", "f1", "log_loss", "source_run", "created")


def _registered(client: mlflow.MlflowClient, model_name: str):
    try:
        return client.get_registered_model(model_name)
    except MlflowException:
        names = [model.name for model in client.search_registered_models()]
        raise RegistryError(
            f"No registered model {model_name!r} in this tracking store (models: {names or 'none'}). "
            "Pass --model-name, or --tracking-uri for another store."
        ) from None


def _metric(tags: dict[str, str], name: str) -> float | None:
    # The gate's re-scored value when there is one, else the evaluation step's.
    value = tags.get(f"{names.TAG_VALIDATION_PREFIX}candidate_{name}", tags.get(f"{names.TAG_TEST_METRIC_PREFIX}{name}"))
    return round(float(value), 4) if value not in (None, "") else None


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


def list_versions(client: mlflow.MlflowClient, model_name: str) -> list[dict[str, Any]]:
    """Every version, newest first."""
    registered = _registered(client, model_name)
    aliases = {alias: str(number) for alias, number in registered.aliases.items()}
    versions = client.search_model_versions(f"name = '{model_name}'")
    rows = [version_row(version, aliases) for version in versions]
    return sorted(rows, key=lambda row: int(row["version"]), reverse=True)


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
        "decision": {key.removeprefix(names.TAG_VALIDATION_PREFIX): value for key, value in sorted(tags.items())
                     if key.startswith(names.TAG_VALIDATION_PREFIX)},
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
