from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def check_drift(
    model: dsl.Input[dsl.Model],
    input_uri: str,
    predictions: dsl.Input[dsl.Dataset],
    drift_thresholds: dict,
    mlflow_experiment_name: str,
    chunk_rows: int,
    kfp_run_id: str,
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    summary: dsl.Output[dsl.Markdown],
) -> dict:
    """Compare the scored input and its scores with the model version's reference profile.

    Verdict ok / warn / drifted with the features named (rules: churnops.core.drift), logged as a
    new MLflow run tagged with the model version (HTML + JSON report, metrics) and shown in KFP:
    `metrics` (verdict code 0/1/2, PSI and KS per feature), `report` (HTML), `summary` (Markdown).
    `kfp_run_id` (the pipeline passes dsl.PIPELINE_JOB_ID_PLACEHOLDER) is tagged on that run.
    Returns the verdict, the drifted features and the report's URIs.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import check_drift as step

    result = step.run(
        dict(model.metadata),
        [input_uri],
        [predictions.path],
        thresholds=drift_thresholds,
        experiment_name=mlflow_experiment_name,
        html_path=report.path,
        markdown_path=summary.path,
        chunk_rows=chunk_rows,
        kfp_run={"run_id": kfp_run_id},
    )
    for name, value in result.pop("metrics").items():
        metrics.log_metric(name, value)
    report.metadata.update({"verdict": result["verdict"], "mlflow_uri": result["report_uri"]})
    return result
