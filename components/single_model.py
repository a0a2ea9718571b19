from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def single_model(model_type: str, hyperparameters: dict) -> dict:
    """Single-model mode: the one candidate to train, in the same shape the search selects.

    A step of its own because a KFP branch can only hand a value on through dsl.OneOf; it
    imports nothing heavy and takes a fraction of a second.
    """
    from churnops.steps import single_model as step

    return step.run(model_type, hyperparameters)
