"""The work of each pipeline step, on plain file paths, so components stay thin and tests call it directly.

Each function here is what one `@dsl.component` in `components/` runs; the component only maps its
KFP artifacts to paths and copies the returned metadata onto them.

Each step imports only what it needs, inside the function: every step is a fresh process, and
importing MLflow or scikit-learn costs 1-3 s that the steps that don't use them should not pay.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from churnops.errors import ChurnopsError

if TYPE_CHECKING:
    from churnops import evaluation


def load_and_split(
    dataset_uri: str,
    test_size_ratio: float,
    target_column: str,
    random_state: int,
    positive_label: str,
    paths: dict[str, str],
) -> dict[str, Any]:
    """Read, validate and split; write x_train/y_train/x_test/y_test CSVs to `paths`."""
    from churnops import data

    frame = data.read_dataset(dataset_uri)
    split = data.split_dataset(frame, target_column, test_size_ratio, random_state, positive_label)
    split.x_train.to_csv(paths["x_train"], index=False)
    split.y_train.to_frame().to_csv(paths["y_train"], index=False)
    split.x_test.to_csv(paths["x_test"], index=False)
    split.y_test.to_frame().to_csv(paths["y_test"], index=False)
    return {
        "dataset_uri": dataset_uri,
        "dataset_sha256": data.fingerprint(frame),
        "rows": len(frame),
        "train_rows": len(split.x_train),
        "test_rows": len(split.x_test),
        "target_column": target_column,
        "positive_label": split.positive_label,
        "churn_rate": round(float(split.y_train.mean()), 4),
        "test_size_ratio": test_size_ratio,
        "random_state": random_state,
    }


def train(
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
) -> dict[str, Any]:
    """Fit and log the model in an MLflow run; optionally write a local MLflow-format copy.

    `candidate` (from the search or single-model mode) overrides `model_type`/`hyperparameters`;
    when it carries a `run_id` (the search's parent run) the model is logged into that run.
    """
    import mlflow

    from churnops import data, storage, tracking, training

    candidate = candidate or {}
    model_type = candidate.get("model_type", model_type)
    hyperparameters = candidate.get("hyperparameters", hyperparameters)
    tracking.connect(tracking_uri)
    experiment_id = tracking.ensure_experiment(tracking_uri, experiment_name)
    x_train = data.read_features(x_train_path)
    y_train = data.read_target(y_train_path)
    target = dataset_info.get("target_column", "Churn")
    positive_label = dataset_info.get("positive_label", "")
    try:
        fitted, logged = training.train_and_log(
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
        )
    except ChurnopsError:
        raise
    except Exception as exc:  # noqa: BLE001 (only artifact-store failures are rewritten; others re-raise)
        location = mlflow.MlflowClient().get_experiment(experiment_id).artifact_location
        error = storage.artifact_store_error(exc, location)
        if error is None:
            raise
        raise error from exc
    if candidate.get("run_id"):
        from churnops.search import log_selection

        log_selection(logged.run_id, candidate)
    mlflow.MlflowClient().set_tag(logged.run_id, "churnops.model_name", model_name)
    if model_copy_path:
        example = training.typed_features(x_train, fitted.spec).head(5)
        training.save_model_copy(
            fitted, model_copy_path, example, training.model_metadata(fitted, target, positive_label)
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


def evaluate(
    x_test_path: str,
    y_test_path: str,
    model_uri: str,
    run_id: str,
    tracking_uri: str,
    threshold: float = 0.5,
) -> evaluation.Evaluation:
    """Score the holdout with the model as logged in MLflow; log metrics and plots to its run."""
    import mlflow

    from churnops import data, evaluation, tracking, training

    tracking.connect(tracking_uri)
    model = mlflow.sklearn.load_model(model_uri)
    spec = _spec_of(model_uri)
    x_test = training.typed_features(data.read_features(x_test_path), spec)
    y_test = data.read_target(y_test_path)
    result = evaluation.evaluate(y_test, model.predict_proba(x_test)[:, 1], threshold)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"test_{name}": value for name, value in result.metrics.items()})
        mlflow.log_param("decision_threshold", threshold)
        mlflow.log_dict({"confusion_matrix": result.confusion, "labels": [0, 1]}, "evaluation/confusion_matrix.json")
        mlflow.log_figure(evaluation.roc_figure(result), "evaluation/roc_curve.png")
        mlflow.log_figure(evaluation.confusion_figure(result), "evaluation/confusion_matrix.png")
    return result


def _spec_of(model_uri: str):
    import mlflow

    from churnops.features import FeatureSpec

    info = mlflow.models.get_model_info(model_uri)
    stored = (info.metadata or {}).get("feature_spec")
    if not stored:
        raise ChurnopsError(f"Model {model_uri} has no feature_spec metadata; it was not logged by churnops.")
    return FeatureSpec(**stored)


def register(
    model_uri: str,
    run_id: str,
    tracking_uri: str,
    model_name: str,
    test_metrics: dict[str, float],
    dataset_sha256: str = "",
    *,
    fingerprint: str = "",
    force: bool = False,
) -> dict[str, Any]:
    """Register the evaluated model as a new version, `candidate-latest`, validation pending.

    An existing version with the same `fingerprint` is returned instead (`reused`), unless `force`.
    The fingerprint tag is set in the call that creates the version: never a version without it.
    """
    import mlflow

    from churnops import registry, tracking
    from churnops.fingerprint import TAG, find_version

    tracking.connect(tracking_uri)
    if fingerprint and not force:
        existing = find_version(mlflow.MlflowClient(), model_name, fingerprint)
        if existing is not None:
            # This run trained for nothing (e.g. a scheduled rerun): say so on it, for whoever finds it.
            mlflow.MlflowClient().set_tag(run_id, "churnops.duplicate_of", f"models:/{model_name}/{existing.version}")
            return {"model_name": model_name, "model_version": existing.version, "run_id": existing.run_id,
                    "model_uri": existing.source, "reused": True}
    tags = {"source_run_id": run_id, **{f"test_{k}": f"{v:.6f}" for k, v in sorted(test_metrics.items())}}
    if dataset_sha256:
        tags["dataset_sha256"] = dataset_sha256
    if fingerprint:
        tags[TAG] = fingerprint
    version = registry.register_version(model_uri, model_name, tags)
    return {"model_name": model_name, "model_version": version.version, "run_id": run_id, "model_uri": model_uri,
            "reused": False}

