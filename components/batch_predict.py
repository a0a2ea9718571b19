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
    max_unseen_fraction: float,
    allow_blank_columns: bool,
) -> dict:
    """Score `input_uri` in chunks (flat memory) with the resolved model version.

    `predictions` (CSV): the input's id column when the model knows one, churn_probability,
    churn_predicted, model_name, model_version on every row. `rejections` (CSV): rows whose
    numeric columns hold non-numbers, with row number and problem. Returns the run summary (with the
    unseen category values per column; more than `max_unseen_fraction` of the rows with one fails the
    step). A feature column blank on every row fails the step unless `allow_blank_columns`.
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
        max_unseen_fraction=max_unseen_fraction,
        allow_blank_columns=allow_blank_columns,
    )
    for artifact in (predictions, rejections):
        artifact.metadata.update({"model_name": summary["model_name"], "model_version": summary["model_version"]})
    predictions.metadata["rows"] = summary["rows"]
    rejections.metadata["rows"] = summary["rejected"]
    return {**summary, "predictions_path": predictions.path, "rejections_path": rejections.path}
