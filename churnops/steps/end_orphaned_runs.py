"""Step `end_orphaned_runs`: the pipeline's exit handler; marks FAILED the MLflow runs its own KFP run left RUNNING.

A step killed from outside (OOM, eviction, a node lost, a cancelled run) never runs its own
exit code, so the MLflow runs it opened stay RUNNING. On a cluster the steps run in pods on other
hosts, so the host:pid owner sweep of the next local run (registry.tracking.sweep_stale_runs)
cannot tell they are dead. This step runs after the pipeline's body whatever happened
(dsl.ExitHandler) and ends exactly the runs tagged with this KFP run's id
(names.RUN_TAG_KFP_RUN_ID, filled from dsl.PIPELINE_JOB_ID_PLACEHOLDER) that are still RUNNING.

What the final status says, read at the pinned versions:
- kfp.local 2.17.3 (kfp/local/orchestrator/orchestrator_utils.py, OrchestratorUtils
  .make_task_arguments, the `task_final_status` case): "SUCCEEDED" or "FAILED" for the body DAG.
- the KFP 2.17.0 backend (backend/src/v2/driver/resolve.go, resolveInputParameter, the
  TaskFinalStatus case): the MLMD execution's last known state of the body DAG as its enum name,
  "COMPLETE" when it succeeded (backend/src/v2/driver/dag.go sets COMPLETE or FAILED), "CACHED"
  for a cached one; a body whose pod was killed may still read RUNNING.
So anything but a success state counts as "did not succeed". On success the step does nothing
and imports nothing heavy (no MLflow): it runs at the end of every successful run.
"""

from __future__ import annotations

from typing import Any

from churnops import names

SUCCESS_STATES = frozenset({"SUCCEEDED", "COMPLETE", "CACHED"})


def run(state: str, tracking_uri: str, experiment_name: str, kfp_run_id: str, task_name: str = "") -> dict[str, Any]:
    """End this KFP run's RUNNING MLflow runs when the body did not succeed; returns what was done."""
    state = str(state or "").upper()
    if state in SUCCESS_STATES:
        return {"state": state, "ended_runs": []}

    from churnops.registry import tracking  # only now: MLflow costs ~2 s to import

    tracking.kfp_run_filter(kfp_run_id)  # an unfilled placeholder is refused before the store is touched
    from churnops import events

    events.emit(events.PIPELINE_FAILED, f"kfp-run/{kfp_run_id}", {
        "kfp_run_id": kfp_run_id, "state": state, "task": task_name, "experiment": experiment_name,
        "summary": f"KFP run {kfp_run_id} ended {state}{f' ({task_name})' if task_name else ''}"}, "exit-handler")
    try:
        return _end(state, tracking_uri, experiment_name, kfp_run_id, task_name)
    finally:
        events.flush()  # bounded; the runs are ended whatever the sinks do


def _end(state: str, tracking_uri: str, experiment_name: str, kfp_run_id: str, task_name: str) -> dict[str, Any]:
    import mlflow

    from churnops.registry import tracking

    tracking.connect(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:  # the body failed before any step opened a run
        return {"state": state, "ended_runs": []}
    why = (f"left RUNNING when KFP run {kfp_run_id} ended {state}"
           f"{f' ({task_name})' if task_name else ''}; ended by the pipeline's {names.ENDED_BY_EXIT_HANDLER}")
    ended = tracking.end_kfp_run_orphans(client, [experiment.experiment_id], kfp_run_id, why)
    print(f"{names.PROGRESS_PREFIX}KFP run {kfp_run_id} ended {state}: marked {len(ended)} MLflow run(s) FAILED",
          flush=True)
    return {"state": state, "ended_runs": ended}
