from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def register_model(
    model: dsl.Input[dsl.Model],
    model_name: str,
    test_metrics: dict,
    fingerprint: str,
    force: bool,
) -> str:
    """Register the evaluated model as a new version with alias `candidate-latest`, status pending.

    Returns the version number. Promotion to `champion` is a separate step that takes it.
    When a version with the same `fingerprint` exists (identical data, parameters and code),
    registers nothing and returns that version, unless `force`.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import register_model as step

    registered = step.run(
        model.metadata["model_uri"],
        model.metadata["run_id"],
        model.metadata["mlflow_tracking_uri"],
        model_name,
        test_metrics,
        model.metadata.get("dataset_sha256", ""),
        fingerprint=fingerprint,
        force=force,
    )
    return str(registered["model_version"])
