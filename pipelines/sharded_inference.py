"""Sharded inference: many input files scored in parallel (a dsl.ParallelFor), one part each, plus a manifest."""

from kfp import dsl

from churnops import defaults
from components import (
    batch_predict,
    check_sharded_drift,
    plan_shards,
    publish_predictions,
    resolve_model,
    write_manifest,
)
from pipelines.exit_handler import orphaned_runs_exit_task
from pipelines.inference import retrain_on

PIPELINE_NAME = "churn-inference-sharded"
# How many shards are scored at once (pods on a cluster). KFP needs it at compile time.
# kfp.local runs at most 2 ParallelFor tasks at once whatever this says.
SHARD_PARALLELISM = 8


@dsl.pipeline(name=PIPELINE_NAME, description="Score many files with a pinned version of the churn classifier, in parallel.")
def sharded_inference_pipeline(
    model_uri: str = defaults.CHAMPION_URI,
    input_uri: str = defaults.CLUSTER_SHARDED_INPUT_URI,
    output_uri: str = defaults.CLUSTER_SHARDED_OUTPUT_URI,
    mlflow_tracking_uri: str = defaults.CLUSTER_TRACKING_URI,
    chunk_rows: int = defaults.CHUNK_ROWS,
    max_rejected_fraction: float = defaults.MAX_REJECTED_FRACTION,
    max_unseen_fraction: float = defaults.MAX_UNSEEN_FRACTION,
    allow_blank_columns: bool = False,
    mlflow_experiment_name: str = defaults.EXPERIMENT,
    drift_check: bool = True,
    drift_thresholds: dict = defaults.DRIFT_THRESHOLDS,  # noqa: B006 (KFP reads the default from the signature)
    retrain_on_drift: bool = False,
    retrain_recurring_run: str = "",
    retrain_window_seconds: int = defaults.RETRAIN_WINDOW_SECONDS,
    kfp_host: str = defaults.CLUSTER_KFP_HOST,
    kfp_namespace: str = "",
):
    """Steps:

    1. resolve_model: `model_uri` -> one concrete version (every shard scores with it).
    2. plan_shards: the files `input_uri` names (a glob like gs://b/in/part-*.csv, or a folder or
       prefix ending in /; local, s3:// or gs://), sorted, each with its part under this run's own
       prefix `<output_uri>/batches/<batch>/`.
    3. Per shard, a dsl.ParallelFor (SHARD_PARALLELISM at once): batch_predict streams the file
       `chunk_rows` at a time; publish_predictions writes `<output_uri>/batches/<batch>/part-NNNNN.csv`
       whole or not at all (rejected rows beside it).
    4. write_manifest: `<output_uri>/manifest.json`, every part with its row counts, replaced
       last and atomically: that publishes the batch. A reader of the manifest sees the parts of
       one run; a run that fails earlier leaves the published manifest and parts as they were.
    5. check_sharded_drift (when `drift_check`): the whole input (every shard) and every part's
       scores, as the manifest lists them, against the version's reference profile, in one check
       (one verdict, one MLflow run; why not per shard: churnops.steps.check_drift.run_sharded).
    6. trigger_retrain: as in churn-inference (on drifted and `retrain_on_drift`, storm-guarded).
    7. end_orphaned_runs (exit handler, after steps 1-6 whatever happened): when they did not all
       succeed, the MLflow runs of this KFP run still RUNNING (the drift run) are marked FAILED.

    Returns nothing (the body is in a dsl.ExitHandler, see pipelines/training.py); the totals
    (rows, rejected, parts) and the manifest's URI are write_manifest's output.
    """
    # The exit handler (issue 16), as in churn-inference: the drift report's MLflow run of this KFP
    # run, tagged kfp.run_id, is marked FAILED when the body did not succeed.
    ended = orphaned_runs_exit_task(mlflow_tracking_uri, mlflow_experiment_name)
    with dsl.ExitHandler(ended, name="sharded-inference"):
        resolved = resolve_model(
            model_uri=model_uri,
            mlflow_tracking_uri=mlflow_tracking_uri,
        ).set_display_name("Resolve model version")

        plan = plan_shards(input_uri=input_uri, output_uri=output_uri,
                           scheduled_time=dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER).set_display_name("Plan shards")

        with dsl.ParallelFor(plan.output, parallelism=SHARD_PARALLELISM, name="shards") as shard:
            scored = batch_predict(
                model=resolved.outputs["model"],
                input_uri=shard.input_uri,
                chunk_rows=chunk_rows,
                max_rejected_fraction=max_rejected_fraction,
                max_unseen_fraction=max_unseen_fraction,
                allow_blank_columns=allow_blank_columns,
            ).set_display_name("Score shard")
            part = publish_predictions(
                predictions=scored.outputs["predictions"],
                rejections=scored.outputs["rejections"],
                output_uri=shard.part_uri,
            ).set_display_name("Publish part")

        manifest = write_manifest(
            parts=dsl.Collected(part.output),
            shards=plan.output,
            output_uri=output_uri,
            model=resolved.outputs["model"],
            scheduled_time=dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER,
        ).set_display_name("Write manifest")

        with dsl.If(drift_check == True, name="drift"):  # noqa: E712 (a KFP condition, not a Python comparison)
            drift = check_sharded_drift(
                model=resolved.outputs["model"],
                manifest=manifest.output,
                drift_thresholds=drift_thresholds,
                mlflow_experiment_name=mlflow_experiment_name,
                chunk_rows=chunk_rows,
                kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            ).set_display_name("Check drift (all shards)")
            retrain_on(drift, retrain_on_drift, kfp_host, kfp_namespace, retrain_recurring_run, retrain_window_seconds)
