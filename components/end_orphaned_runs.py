from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def end_orphaned_runs(
    status: dsl.PipelineTaskFinalStatus,
    mlflow_tracking_uri: str,
    mlflow_experiment_name: str,
    kfp_run_id: str,
) -> dict:
    """The pipeline's exit handler: when the body did not succeed, mark FAILED the MLflow runs of this
    KFP run (`kfp_run_id`, tag kfp.run_id) that are still RUNNING; do nothing when it succeeded.

    `status` is filled by KFP (dsl.ExitHandler; the pipeline does not pass it). Returns
    {"state", "ended_runs"}.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import end_orphaned_runs as step

    return step.run(status.state, mlflow_tracking_uri, mlflow_experiment_name, kfp_run_id,
                    task_name=status.pipeline_task_name or "")
