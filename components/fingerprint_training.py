from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def fingerprint_training(
    x_train: dsl.Input[dsl.Dataset],
    model_type: str,
    hyperparameters: dict,
    decision_threshold: float,
    search_space: list,
    search_cv_folds: int,
    search_budget: dict,
) -> str:
    """The run's fingerprint: dataset content hash + every training parameter + code version.

    Registration uses it to register nothing when an identical run already produced a version.
    In search mode (`model_type` "auto") the search space, folds and budget are parameters too.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import fingerprint_training as step

    return step.run(dict(x_train.metadata), model_type, hyperparameters, decision_threshold, search_space,
                    search_cv_folds, search_budget)
