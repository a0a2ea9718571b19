"""What the CLI shows: `churnops models list|show`, and what a training run produced, read back from MLflow.

MLflow is the source of truth, not the run's logs.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from churnops import names
from churnops.errors import RegistryError
from churnops.registry.aliases import get_version
from churnops.registry.narrative import json_tag as _json_tag
from churnops.registry.versions import missing_model

# Each version's own holdout (the rows of the data it was trained on): comparable only between
# versions with the same `trained_on`. In the JSON rows; the table shows roc_auc of these.
KEY_METRICS = ("roc_auc", "f1", "log_loss")
# Every version scored on the champion's holdout rows: the one score that compares versions
# trained on different data (n/a: the version cannot score those columns).
CHAMPION_ROWS = "roc_auc_on_champion_rows"
MARK = "*"  # the champion's row in the table


def registered_model(client: mlflow.MlflowClient, model_name: str):
    try:
        return client.get_registered_model(model_name)
    except MlflowException:
        raise RegistryError(f"{missing_model(client, model_name)} Pass it with --model-name.") from None


def champion_version(client: mlflow.MlflowClient, model_name: str) -> str:
    """The champion's version number; a clear error when there is none."""
    version = {a: str(n) for a, n in registered_model(client, model_name).aliases.items()}.get(names.ALIAS_CHAMPION)
    if version is None:
        raise RegistryError(f"{model_name} has no champion yet; pass --version N.")
    return version


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


def version_row(version, aliases: dict[str, str], trained_on: str = "") -> dict[str, Any]:
    tags = version.tags
    return {
        "version": str(version.version),
        "champion": aliases.get(names.ALIAS_CHAMPION) == str(version.version),
        "aliases": sorted(alias for alias, number in aliases.items() if number == str(version.version)),
        "validation_status": tags.get(names.TAG_STATUS, ""),
        "trained_on": trained_on,
        **{name: _metric(tags, name) for name in KEY_METRICS},
        "source_run": version.run_id,
        "created": _created(version.creation_timestamp),
    }


def trained_on(client: mlflow.MlflowClient, run_ids: list[str]) -> dict[str, str]:
    """run id -> name@digest of its training data (the run tag lineage writes), in two queries."""
    wanted = sorted({run_id for run_id in run_ids if run_id})
    if not wanted:
        return {}
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = {}
    for start in range(0, len(wanted), 100):
        chunk = ", ".join(f"'{run_id}'" for run_id in wanted[start:start + 100])
        for run in client.search_runs(experiments, f"attributes.run_id IN ({chunk})", max_results=1000):
            found[run.info.run_id] = run.data.tags.get(names.RUN_TAG_DATASET, "")
    return found


def list_versions(client: mlflow.MlflowClient, model_name: str, rescore: bool = True,
                  cache: Path | None = None) -> dict[str, Any]:
    """Every version, newest first; with `rescore`, each one's ROC AUC on the champion's holdout rows.

    `cache`: a JSON file keeping those scores (a version's model and the champion's holdout never
    change, so a score is computed once per version and champion run)."""
    registered = registered_model(client, model_name)
    aliases = {alias: str(number) for alias, number in registered.aliases.items()}
    versions = client.search_model_versions(f"name = '{model_name}'")
    datasets = trained_on(client, [version.run_id for version in versions])
    rows = [version_row(version, aliases, datasets.get(version.run_id, "")) for version in versions]
    champion = aliases.get(names.ALIAS_CHAMPION)
    champion_rows = None
    if rescore and champion:
        run_id = next((version.run_id for version in versions if str(version.version) == champion), "")
        scores = ChampionRowScores(client, model_name, champion, run_id, cache)
        for row in rows:
            row[CHAMPION_ROWS] = scores.get(row["version"])
        scores.save()
        champion_rows = {"version": champion, "rows": scores.rows}
    else:
        for row in rows:
            row[CHAMPION_ROWS] = None
    return {"model_name": model_name, "champion_rows": champion_rows,
            "versions": sorted(rows, key=lambda row: int(row["version"]), reverse=True)}


class ChampionRowScores:
    """Each version's ROC AUC on the champion's holdout rows, from the cache or scored (and kept) now."""

    def __init__(self, client, model_name: str, champion: str, champion_run: str, cache: Path | None):
        self.client, self.model_name, self.champion, self.champion_run = client, model_name, champion, champion_run
        self.cache = cache
        self.store = client._registry_uri  # noqa: SLF001 (MlflowClient keeps the URI it was built with)
        self.kept = _read_json(cache) if cache else {}
        self.rows = self.kept.get(self._key("rows"))
        self._holdout, self._changed = None, False

    def _key(self, what: str) -> str:  # hashed: the store URI may carry credentials
        text = f"{self.store}|{self.model_name}|{self.champion_run}|{what}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def get(self, version: str) -> float | str | None:
        key = self._key(f"v{version}")
        if key in self.kept:
            return self.kept[key]
        if self._holdout is None:
            self._holdout = champion_holdout(self.client, self.model_name, self.champion) or False
            if self._holdout:
                self.rows = self.kept[self._key("rows")] = len(self._holdout[1])
        if not self._holdout:
            return None
        self.kept[key], self._changed = score_on(self.model_name, version, self._holdout), True
        return self.kept[key]

    def save(self) -> None:
        if self.cache and self._changed:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            partial = self.cache.with_name(f"{self.cache.name}.{os.getpid()}.partial")
            partial.write_text(json.dumps(self.kept, sort_keys=True), encoding="utf-8")
            os.replace(partial, self.cache)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


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
    registered = registered_model(client, model_name)
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
    registered = registered_model(client, model_name)
    aliases = {alias: str(number) for alias, number in registered.aliases.items()}
    if version is None:
        version = aliases.get(names.ALIAS_CHAMPION)
        if version is None:
            raise RegistryError(f"{model_name} has no champion yet; pass --version N.")
    found = get_version(client, model_name, version)
    row = version_row(found, aliases, trained_on(client, [found.run_id]).get(found.run_id, ""))
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


def format_table(listing: dict[str, Any]) -> str:
    """The versions as a table an operator cannot misread: the champion marked, what each was trained on,
    the comparable score (every version on the champion's rows) apart from each one's own-holdout score."""
    champion_rows = listing["champion_rows"]
    on_champion = f"roc_auc_on_v{champion_rows['version']}_rows" if champion_rows else CHAMPION_ROWS
    columns = [("", lambda row: MARK if row["champion"] else ""), ("version", "version"), ("aliases", "aliases"),
               ("status", "validation_status"), (on_champion, CHAMPION_ROWS), ("trained_on", "trained_on"),
               ("roc_auc_on_own_rows", "roc_auc"), ("created", "created"), ("source_run", "source_run")]

    def cell(row: dict[str, Any], key) -> str:
        if callable(key):
            return key(row)
        value = row[key]
        if isinstance(value, list):
            return ",".join(value) or "-"
        if value is None or value == "":
            return "-"
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    table = [[header for header, _ in columns]] + [[cell(row, key) for _, key in columns] for row in listing["versions"]]
    widths = [max(len(line[index]) for line in table) for index in range(len(columns))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() for line in table]
    if champion_rows:
        rows = f"{champion_rows['rows']} " if champion_rows.get("rows") else ""
        lines += ["", f"{MARK} champion. {on_champion}: every version scored on champion v{champion_rows['version']}'s "
                      f"{rows}holdout rows (compare versions with this column).",
                  "roc_auc_on_own_rows: each version on the holdout of its own trained_on data (comparable only "
                  "between versions trained on the same data)."]
    elif any(row["champion"] for row in listing["versions"]):
        lines += ["", f"{MARK} champion. roc_auc_on_own_rows: each version on the holdout of its own trained_on data "
                      "(comparable only between versions trained on the same data; without --no-rescore every "
                      "version is also scored on the champion's rows)."]
    return "\n".join(lines)


def format_show(details: dict[str, Any]) -> str:
    lines = [f"{details['model_name']} v{details['version']}  aliases: {', '.join(details['aliases']) or '-'}"]
    if details.get("description"):
        lines.append("  description: " + details["description"].replace("\n\n", "\n").replace("\n", "\n    "))
    for key in ("validation_status", "trained_on"):
        lines.append(f"  {key}: {details[key] or '-'}")
    own = ", ".join(f"{key} {'-' if details[key] is None else details[key]}" for key in KEY_METRICS)
    lines.append(f"  own holdout (rows of its trained_on data): {own}")
    for key in ("source_run", "created", "source"):
        lines.append(f"  {key}: {details[key] if details[key] is not None else '-'}")
    if details["decision"]:
        lines.append("  decision:")
        lines += [f"    {key}: {value}" for key, value in details["decision"].items()]
    if details["audit"]:
        lines.append("  audit:")
        lines += [f"    {entry['at']} {entry['action']} by {entry['by']}: {entry['reason']}" for entry in details["audit"]]
    return "\n".join(lines)


def training_summary(tracking_uri: str, model_name: str, version: str) -> dict[str, Any]:
    from churnops.core.evaluation import METRIC_NAMES  # scikit-learn: only where a training result is read

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
