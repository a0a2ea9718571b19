from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def trigger_retrain(
    drift: dict,
    retrain_on_drift: bool,
    kfp_host: str,
    kfp_namespace: str,
    retrain_recurring_run: str,
    retrain_window_seconds: int,
    decision: dsl.Output[dsl.Markdown],
) -> dict:
    """On a drifted batch (and `retrain_on_drift`), start a run of what `retrain_recurring_run` runs
    through the KFP API at `kfp_host`, at most one per `retrain_window_seconds` (storm guard).

    The decision (trigger or skip, and why; the run started) is returned, shown as Markdown and
    tagged on the drift check's MLflow run.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import trigger_retrain as step

    result = step.run(drift, enabled=retrain_on_drift, kfp_host=kfp_host, namespace=kfp_namespace,
                      recurring_run=retrain_recurring_run, window_seconds=retrain_window_seconds)
    with open(decision.path, "w", encoding="utf-8") as handle:
        handle.write(f"# Retrain: **{result['action']}**\n\n{result['reason']}\n\n"
                     f"- drift verdict: {drift['verdict']}\n- report: {drift.get('report_uri', '')}\n"
                     f"- triggered run: {result.get('run_id') or '-'}\n")
    return result
