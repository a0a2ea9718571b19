from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def profile_reference(
    x_train: dsl.Input[dsl.Dataset],
    x_test: dsl.Input[dsl.Dataset],
    model: dsl.Input[dsl.Model],
    model_name: str,
    profile: dsl.Output[dsl.Artifact],
) -> dict:
    """Store the reference profile (training feature distributions, holdout score distribution) on the model's run.

    `profile` (JSON) is the same file, for KFP lineage; drift checks read the one in MLflow
    (models:/NAME/N -> its run -> reference/profile.json). Returns where it went and its size.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import profile_reference as step

    summary = step.run(x_train.path, x_test.path, model.metadata["model_uri"], model.metadata["run_id"],
                       model.metadata["mlflow_tracking_uri"], model_name, profile_path=profile.path)
    profile.metadata.update(summary)
    return summary
