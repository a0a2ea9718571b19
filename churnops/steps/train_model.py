"""Step `train_model`: fit the chosen candidate on the whole training split and log it to MLflow."""

from __future__ import annotations

import json
from typing import Any

import mlflow

from churnops import cpus, defaults, names
from churnops.core.search_space import candidate_name, leaderboard, normalise
from churnops.errors import ChurnopsError
from churnops.registry import lineage, models, tracking
from churnops.storage import uris
from churnops.storage.datasets import read_features, read_target


def run(
    x_train_path: str,
    y_train_path: str,
    dataset_info: dict[str, Any],
    tracking_uri: str,
    experiment_name: str,
    model_name: str,
    model_type: str,
    hyperparameters: dict[str, Any],
    random_state: int,
    model_copy_path: str | None = None,
    candidate: dict[str, Any] | None = None,
    kfp_run: dict[str, str] | None = None,
    decision_threshold: float = defaults.DECISION_THRESHOLD,
    x_test_path: str | None = None,
) -> dict[str, Any]:
    """Fit and log the model in an MLflow run; optionally write a local MLflow-format copy.

    `x_test_path`: the holdout's features, on which the compiled form must match the pipeline (the
    parity gate, churnops.core.conversion); nothing is fitted or chosen on them.

    `candidate` (from the search or single-model mode) overrides `model_type`/`hyperparameters`;
    when it carries a `run_id` (the search's parent run) the model is logged into that run.
    `decision_threshold` is logged inside the model (its pyfunc predict applies it): the threshold
    is a pipeline parameter fixed before training, so the model is complete when it is logged and
    evaluation, registration and serving all use the same one.
    """
    candidate = candidate or {}
    model_type = candidate.get("model_type", model_type)
    # A dict through KFP is a protobuf Struct: 200 arrives as 200.0; log and fit what the user wrote.
    hyperparameters = normalise(candidate.get("hyperparameters", hyperparameters))
    tracking.connect(tracking_uri)
    experiment_id = tracking.ensure_experiment(tracking_uri, experiment_name)
    x_train = read_features(x_train_path)
    y_train = read_target(y_train_path)
    target = dataset_info.get("target_column", defaults.TARGET_COLUMN)
    positive_label = dataset_info.get("positive_label", "")
    try:
        fitted, logged = models.train_and_log(
            x_train,
            y_train,
            experiment_id=experiment_id,
            model_type=model_type,
            hyperparameters=hyperparameters,
            random_state=random_state,
            target=target,
            positive_label=positive_label,
            run_params={
                key: dataset_info[key]
                for key in ("dataset_uri", "dataset_sha256", "test_size_ratio")
                if key in dataset_info and not candidate.get("run_id")  # the search logged them already
            },
            run_id=candidate.get("run_id") or None,
            model_name=model_name,
            decision_threshold=decision_threshold,
            # At the run's start, not only with the lineage below: a step killed while fitting
            # leaves a run the pipeline's exit handler must still find by its KFP run id.
            run_tags=lineage.kfp_tags(kfp_run or {}),
            n_jobs=cpus.cpu_budget(),  # the refit runs alone: every core this step has
            holdout=read_features(x_test_path) if x_test_path else None,
        )
    except ChurnopsError:
        raise
    except Exception as exc:  # noqa: BLE001 (only artifact-store failures are rewritten; others re-raise)
        location = mlflow.MlflowClient().get_experiment(experiment_id).artifact_location
        error = uris.artifact_store_error(exc, location)
        if error is None:
            raise
        raise error from exc
    if candidate.get("run_id"):
        log_selection(logged.run_id, candidate)
    client = mlflow.MlflowClient()
    client.set_tag(logged.run_id, names.RUN_TAG_MODEL_NAME, model_name)
    lineage.log_training_lineage(client, logged.run_id, x_train, y_train, dataset_info, kfp_run)
    client.update_run(logged.run_id, name=run_name(dataset_info, candidate, model_type, hyperparameters))
    if model_copy_path:
        models.save_model_copy(
            fitted, model_copy_path, models.raw_example(x_train, fitted),
            models.model_metadata(fitted, target, positive_label, decision_threshold), model_name, logged.run_id,
        )
    return {
        "run_id": logged.run_id,
        "model_uri": logged.model_uri,
        "model_id": logged.model_id,
        "experiment_id": experiment_id,
        "mlflow_tracking_uri": tracking_uri,
        "model_type": model_type,
        "hyperparameters": json.dumps(hyperparameters, sort_keys=True),
    }


def run_name(dataset_info: dict[str, Any], candidate: dict[str, Any], model_type: str,
             hyperparameters: dict[str, Any]) -> str:
    """What data and which model: `telco_customer_churn: random_forest(...) (best of 7)`."""
    data = lineage.dataset_name(str(dataset_info.get("dataset_uri", ""))) or "data"
    chosen = candidate.get("name") or candidate_name(model_type, hyperparameters)
    board = candidate.get("leaderboard") or []
    return f"{data}: {chosen}" + (f" (best of {len(board)})" if candidate.get("run_id") and board else "")


def log_selection(run_id: str, chosen: dict[str, Any]) -> None:
    """On the parent run: which candidate won, its CV score, and the whole leaderboard."""
    client = mlflow.MlflowClient()
    client.log_param(run_id, "search_selected", chosen["name"])
    client.log_metric(run_id, "cv_roc_auc", float(chosen["cv_roc_auc"]))
    client.log_metric(run_id, "cv_roc_auc_std", float(chosen["cv_roc_auc_std"]))
    client.set_tag(run_id, names.RUN_TAG_SELECTED_CANDIDATE, json.dumps(
        {"name": chosen["name"], "model_type": chosen["model_type"],
         "hyperparameters": normalise(chosen["hyperparameters"])},
        sort_keys=True,
    ))
    client.log_dict(run_id, leaderboard(chosen.get("leaderboard") or [chosen], chosen["name"]), "search/leaderboard.json")
