"""Step `register_model`: a new model version (alias `candidate-latest`, validation pending), or the identical one."""

from __future__ import annotations

from typing import Any

import mlflow

from churnops import names
from churnops.registry import tracking, versions


def run(
    model_uri: str,
    run_id: str,
    tracking_uri: str,
    model_name: str,
    test_metrics: dict[str, float],
    dataset_sha256: str = "",
    *,
    fingerprint: str = "",
    force: bool = False,
) -> dict[str, Any]:
    """Register the evaluated model as a new version, `candidate-latest`, validation pending.

    An existing version with the same `fingerprint` is returned instead (`reused`), unless `force`.
    The fingerprint tag is set in the call that creates the version: never a version without it.
    """
    tracking.connect(tracking_uri)
    client = mlflow.MlflowClient()
    if fingerprint and not force:
        existing = versions.find_by_fingerprint(client, model_name, fingerprint)
        if existing is not None:
            versions.ensure_candidate_alias(client, model_name, existing)
            # This run trained for nothing (e.g. a scheduled rerun): say so on it, for whoever finds it.
            client.set_tag(run_id, names.RUN_TAG_DUPLICATE_OF, f"models:/{model_name}/{existing.version}")
            return {"model_name": model_name, "model_version": existing.version, "run_id": existing.run_id,
                    "model_uri": existing.source, "reused": True}
    tags = {names.TAG_SOURCE_RUN: run_id,
            **{f"{names.TAG_TEST_METRIC_PREFIX}{k}": f"{v:.6f}" for k, v in sorted(test_metrics.items())}}
    if dataset_sha256:
        tags[names.TAG_DATASET_SHA256] = dataset_sha256
    if fingerprint:
        tags[names.TAG_FINGERPRINT] = fingerprint
    version = versions.register_version(model_uri, model_name, tags)
    return {"model_name": model_name, "model_version": version.version, "run_id": run_id, "model_uri": model_uri,
            "reused": False}
