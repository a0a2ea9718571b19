"""KFP pipelines: one per file. `PIPELINES` names every pipeline `churnops compile` writes."""

from pipelines.training import training_pipeline

PIPELINES = {"training": training_pipeline}

__all__ = ["PIPELINES", "training_pipeline"]
