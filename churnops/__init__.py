"""churnops: churn model training, promotion and batch inference on Kubeflow Pipelines + MLflow.

The logic lives in small modules here; the KFP components in `components/` are thin wrappers
that import them at run time, so the same code runs in the local runner, in the component
image on a cluster, and in the unit tests.
"""

__version__ = "0.1.0"
