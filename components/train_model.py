from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def train_model(
    x_train: dsl.Input[dsl.Dataset],
    y_train: dsl.Input[dsl.Dataset],
    x_test: dsl.Input[dsl.Dataset],
    mlflow_tracking_uri: str,
    mlflow_experiment_name: str,
    model_name: str,
    model: dsl.Output[dsl.Model],
    model_type: str,
    hyperparameters: dict,
    random_state: int,
    candidate: dict,
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    kfp_pipeline_name: str = "",
    decision_threshold: float = 0.5,  # defaults.DECISION_THRESHOLD (a literal: the source runs in the image)
) -> str:
    """Fit preprocessing + estimator as one sklearn Pipeline, log it to MLflow, return its model URI.

    `model` is a local MLflow-format copy for KFP lineage; its metadata carries the MLflow run id
    and URI that the evaluation and registration steps use. `candidate` (the search's winner or
    the single model) overrides `model_type`/`hyperparameters`; with a `run_id` it names the
    search's parent run, which then receives the refit model. The model's pyfunc applies
    `decision_threshold` (the same one the evaluation and the gate use). `kfp_*`: the KFP run this
    step runs in (the pipeline passes KFP's run-time placeholders), tagged on the MLflow run.
    `x_test`: the holdout the compiled form of the model is checked on (its parity gate), never fitted on.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import train_model as step

    info = step.run(
        x_train.path,
        y_train.path,
        dict(x_train.metadata),
        mlflow_tracking_uri,
        mlflow_experiment_name,
        model_name,
        model_type,
        hyperparameters,
        random_state,
        model_copy_path=model.path,
        candidate=candidate,
        kfp_run={"run_id": kfp_run_id, "run_name": kfp_run_name, "pipeline_name": kfp_pipeline_name},
        decision_threshold=decision_threshold,
        x_test_path=x_test.path,
    )
    model.metadata.update(info)
    model.metadata["dataset_sha256"] = x_train.metadata.get("dataset_sha256", "")
    return info["model_uri"]
