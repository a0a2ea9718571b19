"""Step `start_candidate_search`: check the search space, open the parent MLflow run the candidates nest under.

Each pipeline task runs in its own process (its own pod on a cluster), so nesting is explicit:
this step creates the parent run and hands its id on; every score task creates its child run
with the `mlflow.parentRunId` tag through `MlflowClient` (no process-wide "active run"), and
train_model reopens the parent run to log the refit winner, so the parent holds the final model
and its holdout metrics while the children hold the CV scores.
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.entities import RunStatus

import churnops
from churnops import defaults, names
from churnops.core import halving
from churnops.core.search_space import check_search_space, expand
from churnops.registry import lineage, tracking
from churnops.storage import uris


def run(
    tracking_uri: str,
    experiment_name: str,
    model_name: str,
    space: list[dict[str, Any]],
    cv_folds: int,
    dataset_info: dict[str, Any],
    kfp_run: dict[str, str] | None = None,
    budget: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check the search space, then open the parent run that the candidates' runs nest under.

    `kfp_run` (the KFP run's ids) is tagged on the parent run and handed on to the candidates'
    runs, so the pipeline's exit handler finds every run of its KFP run.
    """
    check_search_space(space)
    budget = halving.checked_budget(budget, defaults.SEARCH_BUDGET)  # before any family task starts
    n_candidates = sum(len(expand(family)) for family in space)
    tracking.connect(tracking_uri)
    experiment_id = tracking.ensure_experiment(tracking_uri, experiment_name)
    client = mlflow.MlflowClient()
    kfp_tags = lineage.kfp_tags(kfp_run or {})
    parent_run = client.create_run(
        experiment_id,
        run_name=f"search-{n_candidates}-candidates",
        tags={
            names.RUN_TAG_STEP: "search",
            names.RUN_TAG_VERSION: churnops.__version__,
            names.RUN_TAG_MODEL_NAME: model_name,
            names.RUN_TAG_OWNER: tracking.owner(),
            **kfp_tags,
        },
    )
    run_id = parent_run.info.run_id
    params = {"search_n_candidates": n_candidates, "search_cv_folds": cv_folds,
              **{f"search_{key}": value for key, value in budget.items()}}
    params.update({key: dataset_info[key] for key in ("dataset_uri", "dataset_sha256", "test_size_ratio")
                   if key in dataset_info})
    for key, value in params.items():
        client.log_param(run_id, key, value)
    try:
        client.log_dict(run_id, space, "search/search_space.json")  # the search's first artifact write
    except Exception as exc:  # noqa: BLE001 (only artifact-store failures are rewritten; others re-raise)
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        error = uris.artifact_store_error(exc, client.get_experiment(experiment_id).artifact_location)
        if error is None:
            raise
        raise error from exc
    # Left RUNNING: the training step reopens it to log the winner and ends it.
    return {"run_id": run_id, "experiment_id": experiment_id, "mlflow_tracking_uri": tracking_uri,
            **({"kfp_run_id": kfp_tags[names.RUN_TAG_KFP_RUN_ID]} if names.RUN_TAG_KFP_RUN_ID in kfp_tags else {})}
