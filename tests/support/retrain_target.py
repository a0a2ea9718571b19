"""What the schedules sync leaves in KFP for the retrain trigger to find: the training pipeline and its recurring run."""

from __future__ import annotations

from pathlib import Path

import kfp
from kfp import compiler

from pipelines.training import training_pipeline

TARGET = "churn-weekly-retrain"
PARAMETERS = {"dataset_uri": "s3://churnops-data/churn/latest.csv", "mlflow_experiment_name": "churn-prod"}


def compile_training(path: Path) -> Path:
    compiler.Compiler().compile(training_pipeline, str(path))
    return path


def seed(server, package: Path) -> str:
    """Upload `package` as churn-training, add the weekly recurring run of it; returns its experiment id."""
    client = kfp.Client(host=server.url)
    pipeline = client.upload_pipeline(str(package), pipeline_name="churn-training")
    version = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    experiment = client.create_experiment("churn-prod")
    server.add_recurring_run(
        display_name=TARGET, experiment_id=experiment.experiment_id, service_account="churnops-pipeline-runner",
        pipeline_version_reference={"pipeline_id": pipeline.pipeline_id, "pipeline_version_id": version.pipeline_version_id},
        runtime_config={"parameters": dict(PARAMETERS)}, trigger={"cron_schedule": {"cron": "0 0 3 * * MON"}})
    server.reset_calls()
    return experiment.experiment_id
