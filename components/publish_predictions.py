from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def publish_predictions(
    predictions: dsl.Input[dsl.Dataset],
    rejections: dsl.Input[dsl.Dataset],
    output_uri: str,
    scheduled_time: str = "",
) -> dict:
    """Write `predictions` to `output_uri` (gs://, s3://, a local path) whole or not at all; the
    rejected rows, if any, beside it as <name>.rejected.csv. Returns where they went and row counts.
    `{scheduled_time}` in `output_uri` becomes `scheduled_time` (the pipelines pass KFP's
    schedule-time placeholder, which the driver fills) as 20261207T073000Z."""
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import publish_predictions as step

    return step.run(predictions.path, rejections.path, output_uri,
                    rows=int(predictions.metadata.get("rows", 0)), rejected=int(rejections.metadata.get("rows", 0)),
                    scheduled_time=scheduled_time)
