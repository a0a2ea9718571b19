"""Step `check_drift`: compare a scoring batch (its rows and its scores) with the model version's reference profile.

Streams the input and the predictions chunk by chunk (flat memory, like batch_predict), decides
ok / warn / drifted (churnops.core.drift has the rules), and logs the report as a new MLflow run
in the experiment, tagged with the model version: an HTML page people can open, the JSON, and
the numbers as metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from churnops import defaults, events, names
from churnops.core import secrets
from churnops.core.drift import DriftCheck, DriftReport, Thresholds, to_html, to_markdown
from churnops.core.fitting import typed_features
from churnops.core.profile import SCORE
from churnops.errors import ChurnopsError
from churnops.registry import journal, lineage, profiles, tracking
from churnops.registry.loading import feature_spec
from churnops.storage import uris


def run(
    model_metadata: dict,
    input_uris: list[str],
    prediction_paths: list[str],
    *,
    thresholds: dict[str, Any],
    experiment_name: str,
    html_path: str,
    markdown_path: str,
    chunk_rows: int = defaults.CHUNK_ROWS,
    kfp_run: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The step: `model_metadata` is what resolve_model wrote. Returns the verdict, features, report URIs."""
    limits = Thresholds.from_dict(thresholds)  # a bad threshold fails before anything is read
    tracking_uri = model_metadata["mlflow_tracking_uri"]
    tracking.connect(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    label = f"{model_metadata['model_name']} v{model_metadata['model_version']}"
    profile = profiles.load_run_profile(client, model_metadata["run_id"], label)
    report = check(profile, limits, feature_spec(model_metadata["model_uri"]), input_uris, prediction_paths,
                   chunk_rows, {"model_name": model_metadata["model_name"], "model_version": model_metadata["model_version"]})
    Path(html_path).parent.mkdir(parents=True, exist_ok=True)
    Path(html_path).write_text(to_html(report), encoding="utf-8")
    Path(markdown_path).parent.mkdir(parents=True, exist_ok=True)
    Path(markdown_path).write_text(to_markdown(report), encoding="utf-8")
    experiment_id = tracking.ensure_experiment(tracking_uri, experiment_name)
    logged = profiles.log_drift_run(client, experiment_id, report, input_uri=",".join(secrets.redact(uri) for uri in input_uris),
                                    reference_run_id=model_metadata["run_id"],
                                    run_tags=lineage.kfp_tags(kfp_run or {}))
    announce(client, model_metadata, report, logged)
    return {
        "verdict": report.verdict,
        "drifted_features": report.drifted,
        "warned_features": report.warned,
        "reasons": report.reasons,
        "rows": report.rows,
        "model_name": model_metadata["model_name"],
        "model_version": model_metadata["model_version"],
        "mlflow_tracking_uri": tracking_uri,
        "metrics": report.metrics(),
        "html_path": html_path,
        **logged,
    }


def announce(client, model_metadata: dict, report: DriftReport, logged: dict[str, Any]) -> None:
    """The verdict on the registered model (the predictor's churnops_drift_verdict gauge) and as an event."""
    name, version = model_metadata["model_name"], str(model_metadata["model_version"])
    if name and version.isdigit():  # a registered version, not a runs:/ URI
        client.set_registered_model_tag(name, names.TAG_LAST_DRIFT, json.dumps(
            {"verdict": report.verdict, "version": version, "at": journal.now(),
             "run_id": logged.get("drift_run_id", "")}, sort_keys=True))
    events.emit(events.DRIFT_VERDICT, f"{name}/v{version}", {
        "model_name": name, "version": version, "verdict": report.verdict, "drifted_features": report.drifted,
        "rows": report.rows, "drift_run_id": logged.get("drift_run_id"),
        "summary": f"{report.verdict}" + (f" ({', '.join(report.drifted)})" if report.drifted else "")}, "drift")
    events.flush()


def run_sharded(model_metadata: dict, manifest_uri: str, **options: Any) -> dict[str, Any]:
    """The drift check of a sharded scoring run, on the whole input: every shard's input file and its
    published part, as `<output_uri>/manifest.json` lists them (written after every part is complete).

    One check over all shards rather than one per shard merged: the verdict, the MLflow run and the
    retrain decision are about the batch; a shard is a fraction of it (PSI on a few hundred rows is
    noise, min_rows caps it at warn), and eight per-shard tests would each get the chance to raise
    a false `drifted`. It streams like the single check, in one pod, after the parts are written."""
    with uris.open_input(manifest_uri, "--manifest") as stream:
        manifest = json.load(stream)
    parts = sorted(manifest.get("parts") or [], key=lambda part: int(part["index"]))
    if not parts:
        raise ChurnopsError(f"The manifest {manifest_uri} lists no parts: nothing was scored, so there is nothing to "
                            "check for drift. Check the sharded run's input_uri.")
    return run(model_metadata, [part["input_uri"] for part in parts], [part["uri"] for part in parts], **options)


def check(profile: dict, limits: Thresholds, spec, input_uris: list[str], prediction_paths: list[str],
          chunk_rows: int, model: dict[str, Any]) -> DriftReport:
    drift = DriftCheck(profile, limits)
    columns = list(profile["features"])
    for input_uri in input_uris:
        with uris.open_input(input_uri, "--input") as stream:
            for chunk in pd.read_csv(stream, dtype=str, keep_default_na=False, na_values=[""], usecols=columns,
                                     chunksize=chunk_rows):
                drift.add_features(typed_features(chunk, spec))
    for path in prediction_paths:
        with uris.open_input(path, "--output") as stream:
            for chunk in pd.read_csv(stream, usecols=[SCORE], chunksize=chunk_rows):
                drift.add_scores(chunk[SCORE].to_numpy(dtype="float64"))
    return drift.report(model)
