"""Sharded scoring with KFP's local runner: 8 files -> a ParallelFor -> 8 parts + a manifest, equal to one process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import retrain_target
from support.drift_batches import write_batches
from support.kfp_server import FakeKfpServer
from support.retrain_target import TARGET

from churnops import names
from churnops.app.local_runner import run_locally
from churnops.errors import ChurnopsError
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
    }, trained_run["home"], result_task="write-manifest")  # the body is in a dsl.ExitHandler
    manifest = json.loads((out / "manifest.json").read_text())
    assert (int(summary["rows"]), int(summary["parts"]), manifest["rows"]) == (5000, SHARDS, 5000)
    batch = out / "batches" / manifest["batch"]
    assert [part["uri"] for part in manifest["parts"]] == [str(batch / f"part-{i:05d}.csv") for i in range(SHARDS)]
    assert [part["input_uri"] for part in manifest["parts"]] == [str(shards / f"shard-{i}.csv") for i in range(SHARDS)]
    parts = [pd.read_csv(part["uri"], dtype=str) for part in manifest["parts"]]
    assert [len(part) for part in parts] == [part["rows"] for part in manifest["parts"]]
    assert sorted(p.name for p in out.iterdir()) == ["batches", "manifest.json"]
    assert sorted(p.name for p in batch.iterdir()) == [f"part-{i:05d}.csv" for i in range(SHARDS)]

    client = mlflow.MlflowClient(tracking_uri=trained_run["tracking_uri"], registry_uri=trained_run["tracking_uri"])
    single = tmp_path / "single.csv"
    predict_file(resolve("models:/churn-classifier/1", client), str(shards / "all.csv.whole"), str(single),
                 str(tmp_path / "rejected.csv"), tracking_uri=trained_run["tracking_uri"])
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), pd.read_csv(single, dtype=str))
    # The drift step ran on the whole input (the training rows themselves): all 5000 rows, not drifted.
    [drift] = drift_runs(client, str(shards / "shard-0.csv"))
    assert drift.data.tags[names.RUN_TAG_DRIFT_VERDICT] != "drifted" and drift.data.tags[names.RUN_TAG_DRIFT_FEATURES] == ""
    assert drift.data.tags[names.RUN_TAG_INPUT].count("shard-") == SHARDS


def test_a_failed_run_leaves_the_published_batch_exactly_as_it_was(trained_run, shards, tmp_path):
    """Issue 25: a failed run into the same output_uri overwrote 3 of 4 parts under the old manifest."""
    out = tmp_path / "predictions"
    options = {"model_uri": "models:/churn-classifier/1", "output_uri": str(out), "drift_check": False,
               "mlflow_tracking_uri": trained_run["tracking_uri"], "chunk_rows": 300}
    run_locally(sharded_inference_pipeline, {**options, "input_uri": str(shards / "shard-[0-3].csv")},
                trained_run["home"], result_task="write-manifest")
    manifest = (out / "manifest.json").read_bytes()
    published = {part["uri"]: Path(part["uri"]).read_bytes() for part in json.loads(manifest)["parts"]}
    # The second run: four shards again, the last one with every MonthlyCharges unparseable (that shard fails).
    second = tmp_path / "second"
    second.mkdir()
    for index in range(4):
        rows = pd.read_csv(shards / f"shard-{index}.csv", dtype=str, keep_default_na=False)
        if index == 3:
            rows["MonthlyCharges"] = "n/a"
        else:
            rows["tenure"] = "1"  # scores differ from the first run's, so a part written over would show
        rows.to_csv(second / f"shard-{index}.csv", index=False)
    with pytest.raises(ChurnopsError):
        run_locally(sharded_inference_pipeline, {**options, "input_uri": str(second / "shard-*.csv")},
                    trained_run["home"], result_task="write-manifest")
    assert (out / "manifest.json").read_bytes() == manifest
    assert {uri: Path(uri).read_bytes() for uri in published} == published
    assert len(published) == 4


def drift_runs(client, first_input: str) -> list:
    """The drift-check runs (any experiment) whose input list starts with `first_input`."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(experiments, filter_string=f"tags.`{names.RUN_TAG_STEP}` = '{names.STEP_CHECK_DRIFT}'")
    return [run for run in found if run.data.tags.get(names.RUN_TAG_INPUT, "").startswith(first_input)]


@pytest.fixture
def kfp_server(tmp_path):
    with FakeKfpServer() as server:
        server.now = int(time.time())  # the step processes read the real clock
        server.experiment_id = retrain_target.seed(server, retrain_target.compile_training(tmp_path / "training.yaml"))
        yield server


def test_a_drifted_batch_in_eight_shards_is_drifted_as_a_whole_and_triggers_one_retrain(trained_run, synthetic_csv,
                                                                                        kfp_server, tmp_path):
    import mlflow

    batches = write_batches(synthetic_csv, tmp_path, seed=11)
    rows = pd.read_csv(batches / "drifted.csv", dtype=str, keep_default_na=False)
    folder = tmp_path / "in"
    folder.mkdir()
    for index, block in enumerate(np.array_split(np.arange(len(rows)), SHARDS)):
        rows.iloc[block].to_csv(folder / f"shard-{index}.csv", index=False)  # 125 rows each: under min_rows alone
    out = tmp_path / "predictions"
    run_locally(sharded_inference_pipeline, {
        "model_uri": "models:/churn-classifier/1", "input_uri": str(folder / "shard-*.csv"), "output_uri": str(out),
        "mlflow_tracking_uri": trained_run["tracking_uri"], "chunk_rows": 300, "retrain_on_drift": True,
        "retrain_recurring_run": TARGET, "retrain_window_seconds": 3600, "kfp_host": kfp_server.url,
    }, trained_run["home"], result_task="write-manifest")  # the body is in a dsl.ExitHandler
    client = mlflow.MlflowClient(tracking_uri=trained_run["tracking_uri"], registry_uri=trained_run["tracking_uri"])
    [drift] = drift_runs(client, str(folder / "shard-0.csv"))
    tags = drift.data.tags
    assert tags[names.RUN_TAG_DRIFT_VERDICT] == "drifted"
    assert sorted(tags[names.RUN_TAG_DRIFT_FEATURES].split(",")) == ["Contract", "MonthlyCharges", "tenure"]
    assert tags[names.RUN_TAG_RETRAIN_DECISION] == "trigger"
    [started] = kfp_server.state.runs.values()  # one retrain for the batch, not one per shard
    assert started["run_id"] == tags[names.RUN_TAG_RETRAIN_RUN] and started["experiment_id"] == kfp_server.experiment_id
