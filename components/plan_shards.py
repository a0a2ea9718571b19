from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def plan_shards(input_uri: str, output_uri: str, scheduled_time: str = "") -> list:
    """The input files `input_uri` names (a glob, or a folder/prefix ending in /), each with the
    part it is scored into under `output_uri` (its `{scheduled_time}` filled from `scheduled_time`):
    [{index, input_uri, part_uri}], sorted."""
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import plan_shards as step

    return step.run(input_uri, output_uri, scheduled_time)
