from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def evaluate_model(
    x_test: dsl.Input[dsl.Dataset],
    y_test: dsl.Input[dsl.Dataset],
    model: dsl.Input[dsl.Model],
    metrics: dsl.Output[dsl.Metrics],
    classification_metrics: dsl.Output[dsl.ClassificationMetrics],
    decision_threshold: float,
) -> dict:
    """Score the holdout with the model as stored in MLflow; log metrics and plots to its run.

    Returns the metrics (roc_auc, accuracy, precision, recall, f1, log_loss) for the next steps,
    and shows them in the KFP UI as Metrics and a ROC curve / confusion matrix.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import evaluate_model as step

    result = step.run(
        x_test.path,
        y_test.path,
        model.metadata["model_uri"],
        model.metadata["run_id"],
        model.metadata["mlflow_tracking_uri"],
        decision_threshold,
    )
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    fpr, tpr, thresholds = result.roc
    classification_metrics.log_roc_curve(fpr, tpr, thresholds)
    classification_metrics.log_confusion_matrix(["no churn", "churn"], result.confusion)
    return result.metrics
