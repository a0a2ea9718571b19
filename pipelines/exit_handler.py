"""The exit task every pipeline wraps its body in (issue 16; the rule: churnops.steps.end_orphaned_runs)."""

from kfp import dsl

from components import end_orphaned_runs


def orphaned_runs_exit_task(mlflow_tracking_uri, mlflow_experiment_name):
    """After the body whatever happened: the MLflow runs of this KFP run (tagged kfp.run_id) still
    RUNNING are marked FAILED when the body did not succeed. Use as `dsl.ExitHandler(<this>)`."""
    return end_orphaned_runs(
        mlflow_tracking_uri=mlflow_tracking_uri,
        mlflow_experiment_name=mlflow_experiment_name,
        kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    ).set_display_name("End orphaned MLflow runs")
