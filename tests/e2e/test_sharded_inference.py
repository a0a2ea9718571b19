"""Sharded scoring with KFP's local runner: 8 files -> a ParallelFor -> 8 parts + a manifest, equal to one process."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churnops.app.local_runner import run_locally
from churnops.registry.loading import resolve
from churnops.steps.batch_predict import predict_file
from pipelines.sharded_inference import sharded_inference_pipeline

pytestmark = pytest.mark.e2e
SHARDS = 8


@pytest.fixture(scope="module")
def shards(synthetic_csv, tmp_path_factory):
    """The synthetic rows in 8 files of uneven size (a glob's sorted order is the original order)."""
    folder = tmp_path_factory.mktemp("shards")
    rows = pd.read_csv(synthetic_csv, dtype=str, keep_default_na=False).drop(columns=["Churn"])
    rows.to_csv(folder / "all.csv.whole", index=False)
    cuts = np.linspace(0, len(rows), SHARDS + 1).astype(int) + np.array([0, 37, -50, 11, 0, 90, -3, 5, 0])
    for index in range(SHARDS):
        rows.iloc[cuts[index]:cuts[index + 1]].to_csv(folder / f"shard-{index}.csv", index=False)
    return folder


def test_eight_shards_score_the_same_rows_and_probabilities_as_one_process(trained_run, shards, tmp_path):
    import mlflow

    out = tmp_path / "predictions"
    summary = run_locally(sharded_inference_pipeline, {
        "model_uri": "models:/churn-classifier/1", "input_uri": str(shards / "shard-*.csv"), "output_uri": str(out),
        "mlflow_tracking_uri": trained_run["tracking_uri"], "chunk_rows": 300,
    }, trained_run["home"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert (int(summary["rows"]), int(summary["parts"]), manifest["rows"]) == (5000, SHARDS, 5000)
    assert [part["uri"] for part in manifest["parts"]] == [str(out / f"part-{i:05d}.csv") for i in range(SHARDS)]
    assert [part["input_uri"] for part in manifest["parts"]] == [str(shards / f"shard-{i}.csv") for i in range(SHARDS)]
    parts = [pd.read_csv(part["uri"], dtype=str) for part in manifest["parts"]]
    assert [len(part) for part in parts] == [part["rows"] for part in manifest["parts"]]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", *[f"part-{i:05d}.csv" for i in range(SHARDS)]]

    client = mlflow.MlflowClient(tracking_uri=trained_run["tracking_uri"], registry_uri=trained_run["tracking_uri"])
    single = tmp_path / "single.csv"
    predict_file(resolve("models:/churn-classifier/1", client), str(shards / "all.csv.whole"), str(single),
                 str(tmp_path / "rejected.csv"), tracking_uri=trained_run["tracking_uri"])
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), pd.read_csv(single, dtype=str))
