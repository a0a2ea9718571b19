from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def check_sharded_drift(
    model: dsl.Input[dsl.Model],
    manifest: dict,
    drift_thresholds: dict,
    mlflow_experiment_name: str,
    chunk_rows: int,
    kfp_run_id: str,
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    summary: dsl.Output[dsl.Markdown],
) -> dict:
    """check_drift for a sharded scoring run: the whole input (every shard's file) and every part's
    scores, as `manifest` (write_manifest's result) lists them, against the version's reference
    profile, in one check (why: churnops.steps.check_drift.run_sharded). Same outputs as check_drift;
    `kfp_run_id` is tagged on its MLflow run (the exit handler finds it by that tag).
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import check_drift as step

    result = step.run_sharded(
        dict(model.metadata),
        manifest["manifest_uri"],
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
