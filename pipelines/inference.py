"""Inference pipeline: resolve a model URI to one version -> score a dataset in chunks."""

from kfp import dsl

from churnops import defaults
from components import batch_predict, resolve_model

PIPELINE_NAME = "churn-inference"
# The parameter defaults (churnops.defaults) are compiled into the KFP YAML (what a scheduled run
# on the cluster uses).


@dsl.pipeline(name=PIPELINE_NAME, description="Score a dataset with a pinned version of the churn classifier.")
def inference_pipeline(
    model_uri: str = defaults.CHAMPION_URI,
    input_uri: str = defaults.CLUSTER_INPUT_URI,
    mlflow_tracking_uri: str = defaults.CLUSTER_TRACKING_URI,
    chunk_rows: int = defaults.CHUNK_ROWS,
    max_rejected_fraction: float = defaults.MAX_REJECTED_FRACTION,
) -> dict:
    """Steps:

    1. resolve_model: `model_uri` (models:/NAME@ALIAS, models:/NAME/N, runs:/RUN_ID/model) ->
       one concrete version, as a Model artifact (metadata: model_name, model_version, run_id).
    2. batch_predict: score `input_uri` `chunk_rows` rows at a time; predictions (id,
       churn_probability, churn_predicted, model_name, model_version) and rejected rows as
       Datasets; fails when more than `max_rejected_fraction` of the rows are unparseable.

    Returns the scoring summary (rows, rejected, model_name, model_version, ...).
    """
    resolved = resolve_model(
        model_uri=model_uri,
        mlflow_tracking_uri=mlflow_tracking_uri,
    ).set_display_name("Resolve model version")

    scored = batch_predict(
        model=resolved.outputs["model"],
        input_uri=input_uri,
        chunk_rows=chunk_rows,
        max_rejected_fraction=max_rejected_fraction,
    ).set_display_name("Batch predict")

    return scored.outputs["Output"]
