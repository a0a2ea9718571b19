"""Step `score_model_family`: cross-validate the settings of one model family by successive halving, each a nested MLflow run.

Each setting's run holds one `cv_roc_auc` / `cv_rows` point per round it was scored in (step =
round), and the tag `churnops.halving_round_out` when it was eliminated; the family's survivor is
scored on the search's final row budget (churnops.core.halving).
"""

from __future__ import annotations

import time
from typing import Any

import mlflow
from mlflow.entities import RunStatus
from threadpoolctl import threadpool_limits

from churnops import cpus, defaults, names
from churnops.core import halving
from churnops.core.cross_validation import cross_validate, subsample
from churnops.core.search_space import expand
from churnops.registry import tracking
from churnops.storage.datasets import read_features, read_target


def run(
    x_train_path: str,
    y_train_path: str,
    family: dict[str, Any],
    parent: dict[str, Any],
    cv_folds: int,
    random_state: int,
    budget: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score one model family's settings as child runs of the search's parent run.

    `budget` (default churnops.defaults.SEARCH_BUDGET) says how: successive halving over row
    budgets, or every setting on the final budget ("exhaustive"). Returns every setting's last
    score (with `cv_rows`, the rows it was scored on); only the survivor's is on the final budget.
    """
    budget = halving.checked_budget(budget, defaults.SEARCH_BUDGET)
    tracking.connect(parent["mlflow_tracking_uri"])
    x_train = read_features(x_train_path)
    y_train = read_target(y_train_path)
    candidates = expand(family)
    rounds = halving.schedule(len(candidates), len(x_train), budget)
    # Threads: the cores this task has (its pod's request; locally a share of the machine, as
    # kfp.local runs two family tasks at once); more OpenMP threads than cores slow everyone down.
    cores = cpus.cpu_budget(fan_out=True)
    plan = ", then ".join(f"{count} on {rows} rows" for rows, count in rounds)
    print(f"{names.PROGRESS_PREFIX}scoring {family['model_type']}: {len(candidates)} settings x {int(cv_folds)} folds "
          f"({plan}; {len(x_train)} training rows), {cores} core(s)", flush=True)
    runs = {candidate["name"]: _open_run(candidate, parent) for candidate in candidates}
    alive, last = candidates, {}
    try:
        with threadpool_limits(limits=cores):
            for number, (rows, count) in enumerate(rounds):
                if count < len(alive):  # keep the best `count` of the last round
                    kept = {score["name"] for score in halving.survivors([last[c["name"]] for c in alive], count)}
                    alive = [candidate for candidate in alive if candidate["name"] in kept]
                x_round, y_round = subsample(x_train, y_train, rows, int(random_state))
                for candidate in alive:
                    score = cross_validate(x_round, y_round, candidate, int(cv_folds), int(random_state), cores)
                    last[candidate["name"]] = {**score, "run_id": runs[candidate["name"]], "halving_round": number}
                    mlflow.MlflowClient().log_batch(runs[candidate["name"]], metrics=_fold_metrics(score, number))
    except Exception:
        for run_id in runs.values():
            mlflow.MlflowClient().set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client = mlflow.MlflowClient()
    final = {candidate["name"] for candidate in alive}
    for name, run_id in runs.items():
        if name not in final:
            client.set_tag(run_id, names.RUN_TAG_HALVING_ROUND_OUT, str(last[name]["halving_round"]))
        client.set_terminated(run_id)
    return {"model_type": family["model_type"], "scores": [last[c["name"]] for c in candidates],
            "rounds": [{"rows": rows, "settings": count} for rows, count in rounds]}


def _open_run(candidate: dict[str, Any], parent: dict[str, Any]) -> str:
    """The setting's own run, nested under `parent["run_id"]`, with its parameters."""
    client = mlflow.MlflowClient()
    run = client.create_run(
        parent["experiment_id"],
        run_name=candidate["name"],
        tags={names.RUN_TAG_PARENT: parent["run_id"], names.RUN_TAG_STEP: "score",
              names.RUN_TAG_CANDIDATE: candidate["name"], names.RUN_TAG_OWNER: tracking.owner(),
              # The KFP run the search runs in (start_candidate_search's metadata): the exit handler's key.
              **({names.RUN_TAG_KFP_RUN_ID: str(parent["kfp_run_id"])} if parent.get("kfp_run_id") else {})},
    )
    client.log_batch(run.info.run_id, params=[
        mlflow.entities.Param(key, str(value)) for key, value in _candidate_params(candidate).items()])
    return run.info.run_id


def _candidate_params(candidate: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_type": candidate["model_type"],
        **{f"hp_{key}": value for key, value in sorted((candidate.get("hyperparameters") or {}).items())},
    }


def _fold_metrics(score: dict[str, Any], number: int) -> list:
    """One round's metrics at step `number`; the fold scores of the round at steps round*100 + fold."""
    now = int(time.time() * 1000)
    metric = mlflow.entities.Metric
    metrics = [
        metric("cv_roc_auc", score["cv_roc_auc"], now, number),
        metric("cv_roc_auc_std", score["cv_roc_auc_std"], now, number),
        metric("cv_seconds", score["cv_seconds"], now, number),
        metric("cv_rows", score["cv_rows"], now, number),
    ]
    metrics += [metric("cv_fold_roc_auc", value, now, number * 100 + fold)
                for fold, value in enumerate(score["cv_fold_roc_auc"])]
    return metrics
