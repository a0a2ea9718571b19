"""What a training run produced, read back from MLflow (the source of truth, not the run's logs)."""

from __future__ import annotations

from typing import Any

import mlflow

from churnops.evaluation import METRIC_NAMES


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
        "validation_status": model_version.tags.get("validation_status", ""),
        "created_ms": int(model_version.creation_timestamp),
        "tracking_uri": tracking_uri,
    }
