"""churnops: churn model training, promotion and batch inference on Kubeflow Pipelines + MLflow.

Layers, each importing only the ones below it (docs/architecture.md; enforced by import-linter):
    app/, schedules/        the CLI, local runs, compile, platform config, the GitOps sync
    pipelines/, components/ (top-level packages) the KFP pipelines and their thin components
    steps/                  what each component runs, on plain paths (steps/<component>.py)
    registry/, storage/     MLflow (tracking, versions, aliases, loading); data URIs and files
    core/                   pure logic: data, features, fitting, evaluation, promotion rule, fingerprint
    defaults, names, errors shared by all: every default, the registry vocabulary, user errors
"""

__version__ = "0.1.0"
