from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def start_candidate_search(
    x_train: dsl.Input[dsl.Dataset],
    mlflow_tracking_uri: str,
    mlflow_experiment_name: str,
    model_name: str,
    search_space: list,
    cv_folds: int,
    search_budget: dict,
    kfp_run_id: str,
    search_run: dsl.Output[dsl.Artifact],
):
    """Check the search space and open the parent MLflow run that every candidate's run nests under.

    The parent run id travels as metadata of `search_run` (an artifact, not a string output:
    kfp.local 2.17.3 hands a ParallelFor task the loop item in place of an upstream string output).
    `kfp_run_id` (the pipeline passes dsl.PIPELINE_JOB_ID_PLACEHOLDER) is tagged on the parent run
    and travels in the same metadata to every candidate's run: the exit handler's key.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import start_candidate_search as step

    search_run.metadata.update(
        step.run(
            mlflow_tracking_uri,
            mlflow_experiment_name,
            model_name,
            search_space,
            cv_folds,
            dict(x_train.metadata),
            budget=search_budget,
            kfp_run={"run_id": kfp_run_id},
        )
    )
    with open(search_run.path, "w", encoding="utf-8") as handle:
        handle.write(search_run.metadata["run_id"])
