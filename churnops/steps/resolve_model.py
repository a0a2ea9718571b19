"""Step `resolve_model`: pin a model URI (models:/NAME@ALIAS, models:/NAME/N, runs:/...) to one version."""

from __future__ import annotations

from typing import Any

import mlflow

from churnops.registry import tracking
from churnops.registry.loading import resolve


def run(model_uri: str, tracking_uri: str) -> dict[str, Any]:
    """The resolved version as plain metadata (model_name, model_version, run_id, model_uri, ...)."""
    tracking.connect(tracking_uri)
    resolved = resolve(model_uri, mlflow.MlflowClient())
    return {**resolved.to_dict(), "mlflow_tracking_uri": tracking_uri}
