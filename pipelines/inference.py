"""Inference pipeline: resolve a model URI to one version -> score a dataset in chunks."""

from kfp import dsl

from components import batch_predict, resolve_model
from pipelines.training import DEFAULT_MODEL_NAME, DEFAULT_TRACKING_URI

PIPELINE_NAME = "churn-inference"
# Defaults compiled into the KFP YAML (what a scheduled run on the cluster uses).
DEFAULT_MODEL_URI = f"models:/{DEFAULT_MODEL_NAME}@champion"
DEFAULT_INPUT_URI = "gs://churnops-data/churn_to_score.csv"


@dsl.pipeline(name=PIPELINE_NAME, description="Score a dataset with a pinned version of the churn classifier.")
def inference_pipeline(
    model_uri: str = DEFAULT_MODEL_URI,
    input_uri: str = DEFAULT_INPUT_URI,
    mlflow_tracking_uri: str = DEFAULT_TRACKING_URI,
    chunk_rows: int = 50000,
    max_rejected_fraction: float = 0.01,
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
