"""Reference profiles and drift reports in MLflow.

The profile is an artifact of the run that logged (and registers) the model, at
`names.ARTIFACT_REFERENCE_PROFILE`, so every version reads its own: models:/NAME/N -> the
version's run -> reference/profile.json. A drift check is a run of its own in the experiment,
tagged with the model version it checked, holding the HTML and JSON report.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from churnops import __version__, names
from churnops.core.drift import DriftReport, to_html
from churnops.core.profile import check_profile
from churnops.errors import RegistryError
from churnops.registry import journal, tracking
from churnops.registry.loading import resolve


def log_profile(client: mlflow.MlflowClient, run_id: str, profile: dict[str, Any]) -> str:
    """Store `profile` on `run_id`; returns the artifact URI."""
    client.log_dict(run_id, profile, names.ARTIFACT_REFERENCE_PROFILE)
    return f"runs:/{run_id}/{names.ARTIFACT_REFERENCE_PROFILE}"


def load_profile(client: mlflow.MlflowClient, model_uri: str) -> dict[str, Any]:
    """The reference profile of models:/NAME/N (or @ALIAS, or runs:/RUN_ID/...)."""
    resolved = resolve(model_uri, client)
    return load_run_profile(client, resolved.run_id, f"{resolved.model_name} v{resolved.model_version}")


def load_run_profile(client: mlflow.MlflowClient, run_id: str, label: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, names.ARTIFACT_REFERENCE_PROFILE, folder)
        except (MlflowException, OSError) as exc:
            raise RegistryError(
                f"{label} has no reference profile ({names.ARTIFACT_REFERENCE_PROFILE} on run {run_id}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}). Versions trained before the drift "
                "check existed have none: retrain (`churnops train --force`) or score without --check-drift."
            ) from None
        profile = json.loads(Path(path).read_text(encoding="utf-8"))
    return check_profile(profile, f"The reference profile of {label}")


def log_drift_run(client: mlflow.MlflowClient, experiment_id: str, report: DriftReport, *, input_uri: str,
                  reference_run_id: str, run_tags: dict[str, str] | None = None) -> dict[str, str]:
    """A new run in the experiment with the report (HTML + JSON), its metrics and tags; returns ids and URIs."""
    model = report.model
    tags = {
        names.RUN_TAG_STEP: names.STEP_CHECK_DRIFT,
        names.RUN_TAG_VERSION: __version__,
        names.RUN_TAG_OWNER: tracking.owner(),
        names.RUN_TAG_MODEL_NAME: str(model.get("model_name", "")),
        names.RUN_TAG_MODEL_VERSION: str(model.get("model_version", "")),
        names.RUN_TAG_REFERENCE_RUN: reference_run_id,
        names.RUN_TAG_INPUT: input_uri[:500],
        names.RUN_TAG_DRIFT_VERDICT: report.verdict,
        names.RUN_TAG_DRIFT_FEATURES: ",".join(report.drifted)[:5000],
        **(run_tags or {}),  # the KFP run's ids (lineage.kfp_tags): the exit handler's key
    }
    run = client.create_run(experiment_id, tags=tags,
                            run_name=f"drift-{model.get('model_name', 'model')}-v{model.get('model_version', '')}")
    run_id = run.info.run_id
    journal.boundary("drift:after-create-run")  # a kill here leaves the run RUNNING: the exit handler's case
    try:
        for key, value in report.metrics().items():
            client.log_metric(run_id, key, value)
        client.log_text(run_id, to_html(report), names.ARTIFACT_DRIFT_REPORT)
        client.log_dict(run_id, report.to_dict(), names.ARTIFACT_DRIFT_JSON)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return {"drift_run_id": run_id, "report_uri": f"{run.info.artifact_uri}/{names.ARTIFACT_DRIFT_REPORT}",
            "report_run_uri": f"runs:/{run_id}/{names.ARTIFACT_DRIFT_REPORT}"}


def record_retrain_decision(client: mlflow.MlflowClient, drift_run_id: str, decision: dict[str, Any]) -> None:
    """The trigger's decision on the drift run, for whoever reads the report."""
    client.set_tag(drift_run_id, names.RUN_TAG_RETRAIN_DECISION, decision["action"])
    client.set_tag(drift_run_id, names.RUN_TAG_RETRAIN_REASON, decision["reason"][:5000])
    if decision.get("run_id"):
        client.set_tag(drift_run_id, names.RUN_TAG_RETRAIN_RUN, decision["run_id"])


def latest_drift_check(client: mlflow.MlflowClient, experiment_name: str, model_name: str, model_version: str,
                       since_ms: int) -> dict[str, Any] | None:
    """The newest drift check of that version started at or after `since_ms` (what a local run just logged)."""
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=(f"tags.`{names.RUN_TAG_STEP}` = '{names.STEP_CHECK_DRIFT}' and "
                       f"tags.`{names.RUN_TAG_MODEL_NAME}` = '{model_name}' and "
                       f"tags.`{names.RUN_TAG_MODEL_VERSION}` = '{model_version}' and attributes.start_time >= {since_ms}"),
        order_by=["attributes.start_time DESC"], max_results=1)
    if not found:
        return None
    run = found[0]
    tags = run.data.tags
    return {"drift_run_id": run.info.run_id, "verdict": tags.get(names.RUN_TAG_DRIFT_VERDICT),
            "drifted_features": [item for item in tags.get(names.RUN_TAG_DRIFT_FEATURES, "").split(",") if item],
            "report_uri": f"{run.info.artifact_uri}/{names.ARTIFACT_DRIFT_REPORT}",
            "retrain_decision": tags.get(names.RUN_TAG_RETRAIN_DECISION),
            "retrain_reason": tags.get(names.RUN_TAG_RETRAIN_REASON),
            "retrain_run_id": tags.get(names.RUN_TAG_RETRAIN_RUN)}


def download_drift_report(client: mlflow.MlflowClient, drift_run_id: str, folder: str) -> str:
    return client.download_artifacts(drift_run_id, names.ARTIFACT_DRIFT_REPORT, folder)
