from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def fingerprint_training(
    x_train: dsl.Input[dsl.Dataset],
    model_type: str,
    hyperparameters: dict,
    decision_threshold: float,
) -> str:
    """The run's fingerprint: dataset content hash + every training parameter + code version.

    Registration uses it to register nothing when an identical run already produced a version.
    """
    from churnops.fingerprint import training_fingerprint

    info = x_train.metadata
    return training_fingerprint(
        info["dataset_sha256"],
        target_column=info["target_column"],
        positive_label=info["positive_label"],
        test_size_ratio=info["test_size_ratio"],
        random_state=info["random_state"],
        model_type=model_type,
        hyperparameters=hyperparameters,
        decision_threshold=decision_threshold,
    )
