"""The user-facing local runs (what `churnops train` and `churnops predict` do), callable from the CLI, tests and benchmarks.

Each runs a compiled pipeline task by task with KFP's local runner (churnops.app.local_runner)
against the embedded MLflow store or any tracking URI.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow

from churnops import defaults, events, names
from churnops.app import governed
from churnops.app.local_runner import run_locally
from churnops.app.views import training_summary
from churnops.core import secrets
from churnops.core.data import encode_target
from churnops.core.data import fingerprint as dataset_sha256
from churnops.core.fingerprint import training_fingerprint
from churnops.core.parameters import resolve_training_request
from churnops.core.promotion import ACTION_PROMOTE, Governance, Policy
from churnops.core.search_space import search_settings
from churnops.errors import ChurnopsError
from churnops.registry import journal, profiles
from churnops.registry.loading import MODELS_URI
from churnops.registry.tracking import churnops_home, connect, embedded_tracking_uri, sweep_stale_runs
from churnops.registry.versions import find_by_fingerprint
from churnops.storage.datasets import local_path, read_dataset, write_error
from churnops.storage.uris import check_credentials
from pipelines.inference import inference_pipeline
from pipelines.training import training_pipeline


def absolute_dataset_uri(dataset: str) -> str:
    """Steps run in their own working directory: hand them an absolute path for local files."""
    path = local_path(dataset)
    return str(Path(path).resolve()) if path is not None else dataset


@contextlib.contextmanager
def recorded_uri(uri: str, flag: str) -> Iterator[str]:
    """The URI the steps are given and everything records: `uri` redacted (churnops.core.secrets).

    Its credentials, if any, reach this process's reads and the step processes through
    names.ENV_URI_CREDENTIALS only while the run lasts: a pipeline parameter is printed by KFP's
    executor in every step log and kept in KFP's records."""
    check_credentials(uri, flag)
    recorded = secrets.redact(uri)
    if recorded == uri:
        yield uri
        return
    before = os.environ.get(names.ENV_URI_CREDENTIALS)
    mapping = json.loads(before) if before else {}
    os.environ[names.ENV_URI_CREDENTIALS] = json.dumps({**mapping, recorded: uri})
    try:
        yield recorded
    finally:
        if before is None:
            os.environ.pop(names.ENV_URI_CREDENTIALS, None)
        else:
            os.environ[names.ENV_URI_CREDENTIALS] = before


def train(dataset: str, **options) -> dict[str, Any]:
    """`churnops train`: see _train. A dataset URI with credentials reaches the steps redacted (recorded_uri)."""
    with recorded_uri(absolute_dataset_uri(dataset), "--dataset") as recorded:
        return _train(recorded, **options)


def _train(
    dataset: str,
    *,
    tracking_uri: str | None = None,
    experiment: str = defaults.EXPERIMENT,
    model_name: str = defaults.MODEL_NAME,
    target: str = defaults.TARGET_COLUMN,
    positive_label: str = "",
    test_size: float = defaults.TEST_SIZE_RATIO,
    model_type: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    random_state: int = defaults.RANDOM_STATE,
    decision_threshold: float = defaults.DECISION_THRESHOLD,
    policy: Policy | None = None,
    force: bool = False,
    home: Path | None = None,
    verbose: bool = False,
    search_space: list[dict[str, Any]] | None = None,
    cv_folds: int = defaults.CV_FOLDS,
    search_budget: dict[str, Any] | None = None,
    governance: Governance | None = None,
) -> dict[str, Any]:
    """Run the training pipeline locally and return what it registered (see summary.training_summary).

    `model_type` "auto" searches `search_space` (default: churnops.core.search_space.DEFAULT_SEARCH_SPACE);
    by `search_budget` (default churnops.defaults.SEARCH_BUDGET: successive halving);
    any estimator name trains that one model with `hyperparameters`. Not given: the search, or
    logistic regression when `hyperparameters` are given (what they meant before the search).

    `governance`: `promotion` auto|approval, `guard` report|enforce, `approval_hours` (issue 27).

    Idempotent: when a version with the same fingerprint (dataset content + parameters + code)
    exists, nothing runs and that version is returned with `promoted: False`, unless `force`.
    """
    model_type, hyperparameters, search_space, search_budget = resolve_training_request(
        model_type, hyperparameters, test_size, cv_folds, decision_threshold, search_budget, search_space, policy,
        governance)
    home = home or churnops_home()
    tracking_uri = tracking_uri or embedded_tracking_uri(home)
    events.check()  # a bad CHURNOPS_EVENT_SINKS is refused before any step runs
    connect(tracking_uri)  # fail fast on an unreachable server, before any step starts
    policy = policy or Policy()
    governance = governance or Governance()
    dataset_uri = dataset  # absolute and redacted by train()
    started = time.monotonic()
    started_ms = int(time.time() * 1000)
    # The pipeline checks again at registration (scheduled runs, races); checking here first
    # saves the whole run (~15 s locally) when nothing changed.
    frame = read_dataset(dataset_uri)
    fingerprint = training_fingerprint(
        dataset_sha256(frame),
        target_column=target,
        positive_label=encode_target(frame, target, positive_label)[1],
        test_size_ratio=test_size,
        random_state=random_state,
        model_type=model_type,
        hyperparameters=hyperparameters,
        decision_threshold=decision_threshold,
        search=search_settings(model_type, search_space, cv_folds, search_budget),
    )
    del frame
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    recovered = journal.recover(client, model_name, f"churnops train: {journal.default_actor()}")
    governed.check_registry(client, model_name, f"churnops train: {journal.default_actor()}")
    existing = None if force else find_by_fingerprint(client, model_name, fingerprint)
    # A pending version is one whose run was killed before the gate decided: the pipeline runs
    # again, finds that version (registration reuses it) and decides it.
    if existing is not None and existing.tags.get(names.TAG_STATUS) != names.STATUS_PENDING:
        result = training_summary(tracking_uri, model_name, existing.version)
        result["selection"] = selection(tracking_uri, result["run_id"])
        result.update(promoted=False, reused=True, fingerprint=fingerprint, recovered=recovered,
                      duration_seconds=round(time.monotonic() - started, 2))
        return result
    experiment_ids = [found.experiment_id] if (found := client.get_experiment_by_name(experiment)) else []
    swept = sweep_stale_runs(client, experiment_ids) if experiment_ids else []  # runs a killed train left RUNNING
    me = f"{socket.gethostname()}:{os.getpid()}"
    os.environ[names.ENV_RUN_OWNER] = me  # the step processes tag their runs with this train's owner
    try:
        with dead_letters_beside(home):
            version = _run_training(dataset_uri, tracking_uri, experiment, model_name, model_type, hyperparameters,
                                    target, positive_label, test_size, random_state, search_space, cv_folds,
                                    search_budget, decision_threshold, policy, force, home, verbose, governance)
    except BaseException:
        # A failed step leaves its run RUNNING (KFP's local runner runs no exit handler): mark them FAILED.
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            sweep_stale_runs(client, [found.experiment_id], finished_owner=me)
        raise
    finally:
        os.environ.pop(names.ENV_RUN_OWNER, None)
    result = training_summary(tracking_uri, model_name, version)
    result["selection"] = selection(tracking_uri, result["run_id"])
    reused = result["created_ms"] < started_ms  # registration found an identical version (a race)
    result.update(
        promoted=not reused and result["tags"].get(names.TAG_VALIDATION_ACTION) == ACTION_PROMOTE
        and result["aliases"].get(names.ALIAS_CHAMPION) == result["model_version"],
        reused=reused,
        fingerprint=fingerprint,
        recovered=recovered,
        swept_runs=swept,
        duration_seconds=round(time.monotonic() - started, 2),
    )
    return result


@contextmanager
def dead_letters_beside(home: Path) -> Iterator[None]:
    """The steps' undelivered events go to this run's CHURNOPS_HOME (a step runs in kfp.local's working
    directory, not ours), unless CHURNOPS_EVENT_DEAD_LETTER names a file already."""
    if events.ENV_DEAD_LETTER in os.environ:
        yield
        return
    os.environ[events.ENV_DEAD_LETTER] = str(events.dead_letter_path({names.ENV_HOME: str(home)}))
    try:
        yield
    finally:
        os.environ.pop(events.ENV_DEAD_LETTER, None)


def _run_training(dataset_uri, tracking_uri, experiment, model_name, model_type, hyperparameters, target,
                  positive_label, test_size, random_state, search_space, cv_folds, search_budget,
                  decision_threshold, policy, force, home, verbose, governance) -> str:
    return run_locally(
        training_pipeline,
        {
            "dataset_uri": dataset_uri,
            "test_size_ratio": test_size,
            "target_column": target,
            "positive_label": positive_label,
            "mlflow_tracking_uri": tracking_uri,
            "mlflow_experiment_name": experiment,
            "model_name": model_name,
            "model_type": model_type,
            "hyperparameters": hyperparameters,
            "random_state": random_state,
            "search_space": search_space,
            "search_cv_folds": cv_folds,
            "search_budget": search_budget,
            "decision_threshold": decision_threshold,
            "promotion_thresholds": dict(policy.thresholds),
            "promotion_metric": policy.primary_metric,
            "promotion_tolerance": policy.tolerance,
            "promotion_min_test_rows": policy.min_test_rows,
            "promotion_min_class_rows": policy.min_class_rows,
            "promotion": governance.promotion,
            "promotion_guard": governance.guard,
            "approval_hours": governance.approval_hours,
            "force": force,
        },
        home,
        verbose=verbose,
        result_task="register-model",  # the pipeline returns nothing: its body is in a dsl.ExitHandler
    )


def check_output_writable(destination: Path) -> None:
    """Refuse an --output that cannot be written, naming the path, before any work."""
    directory = destination.parent
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = None
    if destination.is_dir():
        problem = "is a directory"
    elif not existing.is_dir():
        problem = f"cannot be created: {existing} is not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"cannot be written: {existing} is not writable by this user"
    elif destination.exists() and not os.access(destination, os.W_OK):
        problem = "exists and is read-only"
    if problem:
        raise ChurnopsError(
            f"The predictions file {destination} {problem}; nothing was scored. Pass a writable path with --output."
        )


def rejections_path_for(output: Path) -> Path:
    return output.with_name(f"{output.stem}.rejected{output.suffix or '.csv'}")


def predict(model_uri: str, input_uri: str, output: str, **options) -> dict[str, Any]:
    """`churnops predict`: see _predict. An input URI with credentials reaches the steps redacted (recorded_uri)."""
    with recorded_uri(absolute_dataset_uri(input_uri), "--input") as recorded:
        return _predict(model_uri, recorded, output, **options)


def _predict(
    model_uri: str,
    input_uri: str,
    output: str,
    *,
    tracking_uri: str | None = None,
    chunk_rows: int = defaults.CHUNK_ROWS,
    max_rejected_fraction: float = defaults.MAX_REJECTED_FRACTION,
    max_unseen_fraction: float = defaults.MAX_UNSEEN_FRACTION,
    allow_blank_columns: bool = False,
    home: Path | None = None,
    verbose: bool = False,
    drift: DriftOptions | None = None,
) -> dict[str, Any]:
    """Run the inference pipeline locally; copy its predictions to `output` (rejected rows beside it).

    With `drift` (`--check-drift`), also the drift check; a retrain is triggered only when
    `drift.kfp_host` names a KFP API (never by default).
    """
    home = home or churnops_home()
    check_output_writable(Path(output).resolve())  # before the whole file is scored, not after
    tracking_uri = tracking_uri or embedded_tracking_uri(home)
    events.check()
    connect(tracking_uri)
    if found := MODELS_URI.match(model_uri):  # an alias moved outside churnops is found before it is scored with
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        governed.check_registry(client, found.group("name"), f"churnops predict: {journal.default_actor()}")
    started = time.monotonic()
    started_ms = int(time.time() * 1000)
    with dead_letters_beside(home):
        summary = dict(run_locally(
            inference_pipeline,
            {
                "model_uri": model_uri,
                "input_uri": input_uri,  # absolute and redacted by predict()
                "mlflow_tracking_uri": tracking_uri,
                "chunk_rows": chunk_rows,
                "max_rejected_fraction": max_rejected_fraction,
                "max_unseen_fraction": max_unseen_fraction,
                "allow_blank_columns": allow_blank_columns,
                **(drift or DriftOptions(enabled=False)).parameters(),
            },
            home,
            verbose=verbose,
            result_task="batch-predict",  # the pipeline returns nothing: its body is in a dsl.ExitHandler
        ))
    # KFP passes a dict output through a protobuf Struct: every number comes back as a float.
    for key in ("rows", "rejected"):
        summary[key] = int(summary[key])
    summary["rejected_columns"] = {name: int(count) for name, count in summary["rejected_columns"].items()}
    summary["unseen_categories"] = {name: int(count) for name, count in summary["unseen_categories"].items()}
    summary["unseen_category_rows"] = int(summary["unseen_category_rows"])
    destination = Path(output).resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    try:
        shutil.copyfile(summary.pop("predictions_path"), partial)
        os.replace(partial, destination)  # an existing output is replaced whole or not at all
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if (error := write_error(exc, str(destination), "the predictions")) is None:
            raise
        raise error from None
    rejected_source = summary.pop("rejections_path")
    rejected = rejections_path_for(destination)
    if summary["rejected"]:
        shutil.copyfile(rejected_source, rejected)
        summary["rejections"] = str(rejected)
    else:
        rejected.unlink(missing_ok=True)  # a stale file from an earlier run would mislead
        summary["rejections"] = None
    summary.update(output=str(destination), tracking_uri=tracking_uri,
                   duration_seconds=round(time.monotonic() - started, 2))
    if drift is not None and drift.enabled:
        summary["drift"] = drift_result(tracking_uri, drift.experiment, summary, started_ms, destination)
    return summary


# -- drift check of a local prediction (issue 17) --------------------------------------------------

@dataclass(frozen=True)
class DriftOptions:
    """`churnops predict --check-drift ...`: the drift check's settings for a local run."""

    enabled: bool = True
    thresholds: dict[str, float] = field(default_factory=lambda: dict(defaults.DRIFT_THRESHOLDS))
    experiment: str = defaults.EXPERIMENT
    kfp_host: str = ""  # empty: never trigger a retrain
    kfp_namespace: str = ""
    retrain_recurring_run: str = ""
    retrain_window_seconds: int = defaults.RETRAIN_WINDOW_SECONDS

    def parameters(self) -> dict[str, Any]:
        return {"drift_check": self.enabled, "drift_thresholds": dict(self.thresholds),
                "mlflow_experiment_name": self.experiment, "retrain_on_drift": bool(self.kfp_host),
                "kfp_host": self.kfp_host, "kfp_namespace": self.kfp_namespace,
                "retrain_recurring_run": self.retrain_recurring_run,
                "retrain_window_seconds": self.retrain_window_seconds}


def drift_result(tracking_uri: str, experiment: str, summary: dict[str, Any], started_ms: int,
                 destination: Path) -> dict[str, Any]:
    """What the run's drift check logged, with the HTML report copied beside the predictions."""
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    found = profiles.latest_drift_check(client, experiment, summary["model_name"], summary["model_version"], started_ms)
    if found is None:
        raise ChurnopsError(f"The drift check ran but no report is in experiment {experiment!r} of {tracking_uri}.")
    report = destination.with_name(f"{destination.stem}.drift.html")
    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(profiles.download_drift_report(client, found["drift_run_id"], folder), report)
    return {**found, "report_path": str(report)}


def selection(tracking_uri: str, run_id: str) -> dict[str, Any]:
    """Which model the run trained and, after a search, how it was chosen (from the run in MLflow)."""
    run = mlflow.MlflowClient(tracking_uri=tracking_uri).get_run(run_id)
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    chosen = json.loads(tags.get(names.RUN_TAG_SELECTED_CANDIDATE, "null") or "null")
    return {
        "mode": "search" if chosen else "single",
        "model_type": params.get("model_type"),
        "hyperparameters": chosen["hyperparameters"] if chosen
        else {key[3:]: value for key, value in params.items() if key.startswith("hp_")},
        "candidate": chosen["name"] if chosen else None,
        "n_candidates": int(params["search_n_candidates"]) if "search_n_candidates" in params else 1,
        "cv_folds": int(params["search_cv_folds"]) if "search_cv_folds" in params else None,
        "cv_roc_auc": metrics.get("cv_roc_auc"),
    }


def describe_selection(chosen: dict[str, Any]) -> str:
    if chosen["mode"] == "single":
        settings = ", ".join(f"{key}={value}" for key, value in sorted(chosen["hyperparameters"].items()))
        return f"{chosen['model_type']} ({settings or 'default settings'}; single-model mode)"
    return (
        f"{chosen['candidate']}, best of {chosen['n_candidates']} candidates by "
        f"{chosen['cv_folds']}-fold CV ROC AUC {chosen['cv_roc_auc']:.3f}"
    )
