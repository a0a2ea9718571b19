"""Step `profile_reference`: store the reference profile (training features, holdout scores) on the model's run.

Runs before registration (the pipeline orders it), so every registered version has the profile its
drift checks compare with (churnops.core.profile says what it holds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow

from churnops import cpus
from churnops.core.fitting import typed_features
from churnops.core.profile import build_profile
from churnops.registry import profiles, tracking
from churnops.registry.loading import feature_spec, load_pipeline
from churnops.storage.datasets import read_features


def run(x_train_path: str, x_test_path: str, model_uri: str, run_id: str, tracking_uri: str,
        model_name: str, profile_path: str | None = None) -> dict[str, Any]:
    """Build the profile, log it to `run_id` (and write it to `profile_path` when given)."""
    tracking.connect(tracking_uri)
    spec = feature_spec(model_uri)
    model = load_pipeline(model_uri, cpus.cpu_budget())  # pyfunc versions and older sklearn-flavour ones alike
    train = typed_features(read_features(x_train_path), spec)
    holdout_scores = model.predict_proba(typed_features(read_features(x_test_path), spec))[:, 1]
    profile = build_profile(train, spec.numeric, spec.categorical, holdout_scores, model_name=model_name, run_id=run_id)
    uri = profiles.log_profile(mlflow.MlflowClient(), run_id, profile)
    if profile_path:
        Path(profile_path).parent.mkdir(parents=True, exist_ok=True)
        Path(profile_path).write_text(json.dumps(profile, indent=1, sort_keys=True), encoding="utf-8")
    return {"profile_uri": uri, "features": len(profile["features"]), "training_rows": profile["training_rows"],
            "holdout_rows": profile["holdout_rows"], "schema_version": profile["schema_version"]}
