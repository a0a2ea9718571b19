from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def resolve_model(
    model_uri: str,
    mlflow_tracking_uri: str,
    model: dsl.Output[dsl.Model],
):
    """Pin `model_uri` (models:/NAME@ALIAS, models:/NAME/N, runs:/...) to one concrete version.

    Resolved once, so every later step (and every output row) uses the same version even if
    the alias moves during the run. Metadata: model_name, model_version, run_id, model_uri
    (concrete), requested_uri, mlflow_tracking_uri.
    """
    import json

    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import resolve_model as step

    model.metadata.update(step.run(model_uri, mlflow_tracking_uri))
    with open(model.path, "w", encoding="utf-8") as handle:
        json.dump(model.metadata, handle, indent=2, sort_keys=True)
