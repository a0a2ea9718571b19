from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def register_model(
    model: dsl.Input[dsl.Model],
    model_name: str,
    test_metrics: dict,
) -> str:
    """Register the evaluated model as a new version with alias `candidate-latest`, status pending.

    Returns the version number. Promotion to `champion` is a separate step that takes it.
    """
    from churnops.process import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import register

    registered = register(
        model.metadata["model_uri"],
        model.metadata["run_id"],
        model.metadata["mlflow_tracking_uri"],
        model_name,
        test_metrics,
        model.metadata.get("dataset_sha256", ""),
    )
    return str(registered["model_version"])
