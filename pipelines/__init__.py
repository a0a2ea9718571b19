"""KFP pipelines: one per file. `PIPELINES` names every pipeline `churnops compile` writes."""

from pipelines.inference import inference_pipeline
from pipelines.sharded_inference import sharded_inference_pipeline
from pipelines.training import training_pipeline

PIPELINES = {"training": training_pipeline, "inference": inference_pipeline,
             "sharded_inference": sharded_inference_pipeline}

__all__ = ["PIPELINES", "training_pipeline", "inference_pipeline", "sharded_inference_pipeline"]
