from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def load_and_preprocess_data(
    dataset_uri: str,
    test_size_ratio: float,
    x_train: dsl.Output[dsl.Dataset],
    y_train: dsl.Output[dsl.Dataset],
    x_test: dsl.Output[dsl.Dataset],
    y_test: dsl.Output[dsl.Dataset],
    target_column: str,
    random_state: int,
    positive_label: str,
):
    """Validate the dataset, then write a stratified train/test split as four CSV datasets.

    Any problem with the data (missing file, no target column, one class, too few rows...)
    fails this step with a message that names it, before anything is trained or registered.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import load_and_preprocess_data as step

    outputs = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    info = step.run(
        dataset_uri,
        test_size_ratio,
        target_column,
        random_state,
        positive_label,
        {name: artifact.path for name, artifact in outputs.items()},
    )
    for artifact in outputs.values():
        artifact.metadata.update(info)
