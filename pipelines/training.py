"""Training pipeline: load -> train -> evaluate -> register -> promote (validation gate)."""

from kfp import dsl

from components import (
    evaluate_model,
    fingerprint_training,
    load_and_preprocess_data,
    promote_model,
    register_model,
    train_model,
)

PIPELINE_NAME = "churn-training"
# Defaults compiled into the KFP YAML: what a scheduled run on the cluster uses unless the
# run overrides them. `churnops train` overrides the URIs for the local, embedded run.
DEFAULT_DATASET_URI = "gs://churnops-data/churn_data_2025_03.csv"
DEFAULT_TRACKING_URI = "http://mlflow.mlflow.svc.cluster.local:5000"
DEFAULT_EXPERIMENT = "churn"
DEFAULT_MODEL_NAME = "churn-classifier"


@dsl.pipeline(name=PIPELINE_NAME, description="Train, evaluate and register the churn classifier.")
def training_pipeline(
    dataset_uri: str = DEFAULT_DATASET_URI,
    test_size_ratio: float = 0.2,
    target_column: str = "Churn",
    positive_label: str = "",
    mlflow_tracking_uri: str = DEFAULT_TRACKING_URI,
    mlflow_experiment_name: str = DEFAULT_EXPERIMENT,
    model_name: str = DEFAULT_MODEL_NAME,
    model_type: str = "logistic_regression",
    hyperparameters: dict = {"C": 1.0},  # noqa: B006 (KFP reads the default from the signature)
    random_state: int = 42,
    decision_threshold: float = 0.5,
    promotion_thresholds: dict = {"roc_auc": 0.75},  # noqa: B006
    promotion_metric: str = "roc_auc",
    promotion_tolerance: float = 0.005,
    force: bool = False,
) -> str:
    """Steps:

    1. load_and_preprocess_data: validate `dataset_uri`, stratified split by `test_size_ratio`
       on `target_column` (`positive_label` names the churn value when it is not Yes/True/1).
    2. train_model: fit `model_type` with `hyperparameters`, log the run and model to MLflow.
    3. evaluate_model: holdout metrics and plots, logged to the same run and to KFP.
    4. register_model: a new version of `model_name`, alias `candidate-latest`; registers
       nothing when a version with the same fingerprint (dataset content hash + these
       parameters + code version) exists, unless `force`.
    5. promote_model: validation gate. The candidate must meet `promotion_thresholds` and not
       be worse than the current `champion` on `promotion_metric` by more than
       `promotion_tolerance`, both re-scored on this run's test set. Passing moves `champion`
       (old one -> `previous-champion`); failing sets `challenger`. Decision tagged on the version.

    Returns the registered (or reused) version number.
    """
    data = load_and_preprocess_data(
        dataset_uri=dataset_uri,
        test_size_ratio=test_size_ratio,
        target_column=target_column,
        positive_label=positive_label,
        random_state=random_state,
    ).set_display_name("Load and split data")

    trained = train_model(
        x_train=data.outputs["x_train"],
        y_train=data.outputs["y_train"],
        mlflow_tracking_uri=mlflow_tracking_uri,
        mlflow_experiment_name=mlflow_experiment_name,
        model_name=model_name,
        model_type=model_type,
        hyperparameters=hyperparameters,
        random_state=random_state,
    ).set_display_name("Train model")

    evaluated = evaluate_model(
        x_test=data.outputs["x_test"],
        y_test=data.outputs["y_test"],
        model=trained.outputs["model"],
        decision_threshold=decision_threshold,
    ).set_display_name("Evaluate on holdout")

    registered = register_model(
        model=trained.outputs["model"],
        model_name=model_name,
        test_metrics=evaluated.outputs["Output"],
        fingerprint=fingerprint_training(
            x_train=data.outputs["x_train"],
            model_type=model_type,
            hyperparameters=hyperparameters,
            decision_threshold=decision_threshold,
        ).set_display_name("Fingerprint inputs").output,
        force=force,
    ).set_display_name("Register model version")

    promote_model(
        model=trained.outputs["model"],
        x_test=data.outputs["x_test"],
        y_test=data.outputs["y_test"],
        model_name=model_name,
        model_version=registered.output,
        promotion_thresholds=promotion_thresholds,
        promotion_metric=promotion_metric,
        promotion_tolerance=promotion_tolerance,
        decision_threshold=decision_threshold,
    ).set_display_name("Validation gate (promote)")

    return registered.output
