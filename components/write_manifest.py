from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def write_manifest(
    parts: list,
    shards: list,
    output_uri: str,
    model: dsl.Input[dsl.Model],
    scheduled_time: str = "",
) -> dict:
    """`<output_uri>/manifest.json`: every part (uri, input, rows, rejected) and the totals, written
    atomically after all parts. Returns the totals and the manifest's URI."""
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import write_manifest as step

    return step.run(parts, shards, output_uri, dict(model.metadata), scheduled_time)
