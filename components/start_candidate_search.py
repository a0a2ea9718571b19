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
    search_run: dsl.Output[dsl.Artifact],
):
    """Check the search space and open the parent MLflow run that every candidate's run nests under.

    The parent run id travels as metadata of `search_run` (an artifact, not a string output:
    kfp.local 2.17.3 hands a ParallelFor task the loop item in place of an upstream string output).
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
        )
    )
    with open(search_run.path, "w", encoding="utf-8") as handle:
        handle.write(search_run.metadata["run_id"])
