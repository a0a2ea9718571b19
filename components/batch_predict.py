from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def batch_predict(
    model: dsl.Input[dsl.Model],
    input_uri: str,
    predictions: dsl.Output[dsl.Dataset],
    rejections: dsl.Output[dsl.Dataset],
    chunk_rows: int,
    max_rejected_fraction: float,
) -> dict:
    """Score `input_uri` in chunks (flat memory) with the resolved model version.

    `predictions` (CSV): the input's id column when the model knows one, churn_probability,
    churn_predicted, model_name, model_version on every row. `rejections` (CSV): rows whose
    numeric columns hold non-numbers, with row number and problem. Returns the run summary.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import batch_predict as step

    summary = step.run(
        dict(model.metadata),
        input_uri,
        predictions.path,
        rejections.path,
        chunk_rows=chunk_rows,
        max_rejected_fraction=max_rejected_fraction,
    )
    for artifact in (predictions, rejections):
        artifact.metadata.update({"model_name": summary["model_name"], "model_version": summary["model_version"]})
    predictions.metadata["rows"] = summary["rows"]
    rejections.metadata["rows"] = summary["rejected"]
    return {**summary, "predictions_path": predictions.path, "rejections_path": rejections.path}
