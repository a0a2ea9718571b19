from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def promote_model(
    model: dsl.Input[dsl.Model],
    x_test: dsl.Input[dsl.Dataset],
    y_test: dsl.Input[dsl.Dataset],
    model_name: str,
    model_version: str,
    comparison: dsl.Output[dsl.Metrics],
    promotion_thresholds: dict,
    promotion_metric: str,
    promotion_tolerance: float,
    decision_threshold: float,
    promotion_min_test_rows: int,
    promotion_min_class_rows: int,
    promotion: str,
    promotion_guard: str,
    approval_hours: float,
) -> dict:
    """Validation gate: re-score candidate and champion on this run's test set, then move aliases.

    Passing: `champion` -> this version, the old champion -> `previous-champion`. Failing:
    `challenger` -> this version, champion untouched. The decision is tagged on the version,
    logged to the MLflow run, shown as metrics here and returned (keys: status, action,
    promoted, reason, champion_version, candidate_metrics, champion_metrics...).
    The gate refuses to decide on a holdout smaller than `promotion_min_test_rows` rows or with
    fewer than `promotion_min_class_rows` of either class (0: no minimum).
    The decision is taken inside this step: no `dsl.If` on a multi-output component.
    `promotion` "approval": a pass leaves the champion alone and the version `awaiting-approval`
    (alias `challenger`) for `churnops models approve` within `approval_hours`; `promotion_guard`
    "enforce" puts back an alias moved outside churnops ("report" only announces it).
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import promote_model as step

    decision = step.run(
        x_test.path,
        y_test.path,
        model.metadata["run_id"],
        model.metadata["mlflow_tracking_uri"],
        model_name,
        model_version,
        dict(promotion_thresholds),
        promotion_metric,
        promotion_tolerance,
        decision_threshold,
        min_test_rows=promotion_min_test_rows,
        min_class_rows=promotion_min_class_rows,
        governance={"promotion": promotion, "guard": promotion_guard, "approval_hours": approval_hours},
    )
    comparison.log_metric("promoted", 1.0 if decision["promoted"] else 0.0)
    for name, value in (decision.get("candidate_metrics") or {}).items():
        comparison.log_metric(f"candidate_{name}", value)
    for name, value in (decision.get("champion_metrics") or {}).items():
        comparison.log_metric(f"champion_{name}", value)
    comparison.metadata.update({key: str(decision.get(key)) for key in ("status", "action", "reason", "champion_version")})
    # The way back from KFP to MLflow: the version this run decided on and the run that trained it.
    comparison.metadata["model_version_uri"] = f"models:/{model_name}/{model_version}"
    comparison.metadata["mlflow_run_uri"] = f"runs:/{model.metadata['run_id']}"
    return decision
