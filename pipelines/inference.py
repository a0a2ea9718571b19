"""Inference pipeline: resolve a model version -> score a dataset in chunks -> publish -> drift check -> retrain trigger."""

from kfp import dsl

from churnops import defaults
from components import (
    batch_predict,
    check_drift,
    publish_predictions,
    resolve_model,
    trigger_retrain,
)
from pipelines.exit_handler import orphaned_runs_exit_task

PIPELINE_NAME = "churn-inference"
# The parameter defaults (churnops.defaults) are compiled into the KFP YAML (what a scheduled run
# on the cluster uses).


def retrain_on(drift, retrain_on_drift, kfp_host, kfp_namespace, retrain_recurring_run, retrain_window_seconds):
    """The retrain trigger after a drift check task (this pipeline's and churn-inference-sharded's)."""
    return trigger_retrain(
        drift=drift.outputs["Output"],
        retrain_on_drift=retrain_on_drift,
        kfp_host=kfp_host,
        kfp_namespace=kfp_namespace,
        retrain_recurring_run=retrain_recurring_run,
        retrain_window_seconds=retrain_window_seconds,
    ).set_display_name("Retrain on drift")


@dsl.pipeline(name=PIPELINE_NAME, description="Score a dataset with a pinned version of the churn classifier.")
def inference_pipeline(
    model_uri: str = defaults.CHAMPION_URI,
    input_uri: str = defaults.CLUSTER_INPUT_URI,
    mlflow_tracking_uri: str = defaults.CLUSTER_TRACKING_URI,
    chunk_rows: int = defaults.CHUNK_ROWS,
    max_rejected_fraction: float = defaults.MAX_REJECTED_FRACTION,
    max_unseen_fraction: float = defaults.MAX_UNSEEN_FRACTION,
    allow_blank_columns: bool = False,
    output_uri: str = "",
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

    1. resolve_model: `model_uri` (models:/NAME@ALIAS, models:/NAME/N, runs:/RUN_ID/model) ->
       one concrete version, as a Model artifact (metadata: model_name, model_version, run_id).
    2. batch_predict: score `input_uri` `chunk_rows` rows at a time; predictions (id,
       churn_probability, churn_predicted, model_name, model_version) and rejected rows as
       Datasets; fails when more than `max_rejected_fraction` of the rows are unparseable, more
       than `max_unseen_fraction` hold category values the model never saw (fewer are counted in
       the summary), or a feature column is blank on every row (unless `allow_blank_columns`).
    3. publish_predictions (when `output_uri` is set: gs://, s3://, a path): the predictions
       there, whole or not at all; rejected rows beside them as <name>.rejected.csv.
       `{scheduled_time}` in `output_uri` is the run's schedule time (20261207T073000Z): a
       recurring run writes a new object per slot.
    4. check_drift (when `drift_check`): the input and its scores against the version's
       reference profile -> ok / warn / drifted by `drift_thresholds`, features named; the report
       (HTML, JSON, metrics) as a new run in `mlflow_experiment_name`, and as KFP Metrics,
       HTML and Markdown.
    5. trigger_retrain (after the drift check): on drifted and `retrain_on_drift`, a run of
       what the recurring run `retrain_recurring_run` runs, through the KFP API at `kfp_host`
       (`kfp_namespace`), at most one per `retrain_window_seconds`; the decision recorded.
    6. end_orphaned_runs (exit handler, after steps 1-5 whatever happened): when they did not all
       succeed, the MLflow runs of this KFP run still RUNNING (a drift run) are marked FAILED.

    Returns nothing (the body is in a dsl.ExitHandler, see pipelines/training.py); the scoring
    summary (rows, rejected, model_name, model_version, ...) is batch_predict's output.
    """
    # The exit handler (issue 16): after the body whatever happened, the MLflow runs of this KFP
    # run left RUNNING (the drift report's run, tagged kfp.run_id) are marked FAILED.
    ended = orphaned_runs_exit_task(mlflow_tracking_uri, mlflow_experiment_name)
    with dsl.ExitHandler(ended, name="inference"):
        resolved = resolve_model(
            model_uri=model_uri,
            mlflow_tracking_uri=mlflow_tracking_uri,
        ).set_display_name("Resolve model version")

        scored = batch_predict(
            model=resolved.outputs["model"],
            input_uri=input_uri,
            chunk_rows=chunk_rows,
            max_rejected_fraction=max_rejected_fraction,
            max_unseen_fraction=max_unseen_fraction,
            allow_blank_columns=allow_blank_columns,
        ).set_display_name("Batch predict")

        with dsl.If(output_uri != "", name="publish"):
            publish_predictions(
                predictions=scored.outputs["predictions"],
                rejections=scored.outputs["rejections"],
                output_uri=output_uri,
                # filled by KFP's driver with the run's schedule time; its own input, since the driver
                # replaces only a whole value (churnops.core.run_time)
                scheduled_time=dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER,
            ).set_display_name("Publish predictions")

        with dsl.If(drift_check == True, name="drift"):  # noqa: E712 (a KFP condition, not a Python comparison)
            drift = check_drift(
                model=resolved.outputs["model"],
                input_uri=input_uri,
                predictions=scored.outputs["predictions"],
                drift_thresholds=drift_thresholds,
                mlflow_experiment_name=mlflow_experiment_name,
                chunk_rows=chunk_rows,
                kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            ).set_display_name("Check drift")
            retrain_on(drift, retrain_on_drift, kfp_host, kfp_namespace, retrain_recurring_run, retrain_window_seconds)
