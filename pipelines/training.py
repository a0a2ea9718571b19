"""Training pipeline: load -> train -> evaluate -> register -> promote (validation gate)."""

from kfp import dsl

from churnops import defaults
from churnops.core.search_space import DEFAULT_SEARCH_SPACE, SEARCH
from components import (
    evaluate_model,
    fingerprint_training,
    load_and_preprocess_data,
    profile_reference,
    promote_model,
    register_model,
    score_model_family,
    select_best_candidate,
    single_model,
    start_candidate_search,
    train_model,
)
from pipelines.exit_handler import orphaned_runs_exit_task

PIPELINE_NAME = "churn-training"
# The parameter defaults (churnops.defaults) are compiled into the KFP YAML: what a scheduled run
# on the cluster uses unless the run overrides them. `churnops train` overrides the URIs for the
# local, embedded run.
# How many model families are cross-validated at once (pods on a cluster, processes locally).
# KFP needs it at compile time; the default space has 3 families. Each task sizes its thread pools
# by the cores it has (churnops.cpus: its pod's cpu_request; locally half the machine, as kfp.local
# runs two at once whatever this says).
SEARCH_PARALLELISM = 3


@dsl.pipeline(name=PIPELINE_NAME, description="Train, evaluate and register the churn classifier.")
def training_pipeline(
    dataset_uri: str = defaults.CLUSTER_DATASET_URI,
    test_size_ratio: float = defaults.TEST_SIZE_RATIO,
    target_column: str = defaults.TARGET_COLUMN,
    positive_label: str = "",
    mlflow_tracking_uri: str = defaults.CLUSTER_TRACKING_URI,
    mlflow_experiment_name: str = defaults.EXPERIMENT,
    model_name: str = defaults.MODEL_NAME,
    model_type: str = SEARCH,
    hyperparameters: dict = {},  # noqa: B006 (KFP reads the default from the signature)
    random_state: int = defaults.RANDOM_STATE,
    decision_threshold: float = defaults.DECISION_THRESHOLD,
    promotion_thresholds: dict = defaults.PROMOTION_THRESHOLDS,  # noqa: B006
    promotion_metric: str = defaults.PROMOTION_METRIC,
    promotion_tolerance: float = defaults.PROMOTION_TOLERANCE,
    promotion_min_test_rows: int = defaults.PROMOTION_MIN_TEST_ROWS,
    promotion_min_class_rows: int = defaults.PROMOTION_MIN_CLASS_ROWS,
    promotion: str = defaults.PROMOTION_MODE,
    promotion_guard: str = defaults.GUARD_MODE,
    approval_hours: float = defaults.APPROVAL_HOURS,
    force: bool = False,
    search_space: list = DEFAULT_SEARCH_SPACE,  # noqa: B006
    search_cv_folds: int = defaults.CV_FOLDS,
    search_budget: dict = defaults.SEARCH_BUDGET,  # noqa: B006
):
    """Steps:

    1. load_and_preprocess_data: validate `dataset_uri`, stratified split by `test_size_ratio`
       on `target_column` (`positive_label` names the churn value when it is not Yes/True/1).
    2. Choose the model. `model_type` "auto" (candidate search): start_candidate_search opens a
       parent MLflow run; score_model_family cross-validates every setting of each model
       family in `search_space` on the training split (`search_cv_folds` stratified folds; a
       dsl.ParallelFor over families, SEARCH_PARALLELISM at once), each setting a nested run,
       by successive halving over row budgets (`search_budget`: each round keeps 1/factor of a
       family's settings on factor times the rows, the last round on at most max_rows rows;
       strategy "exhaustive" scores every setting there); select_best_candidate takes the best
       mean ROC AUC on the final budget.
       Any other `model_type` (single-model mode): single_model passes it on with `hyperparameters`.
       train_model refits the choice on the whole training split and logs the model to MLflow
       (into the search's parent run).
    3. evaluate_model: holdout metrics and plots, logged to the same run and to KFP.
       profile_reference: the reference profile (training feature distributions, holdout
       score distribution) on the same run, before registration, for the drift check.
    4. register_model: a new version of `model_name`, alias `candidate-latest`; registers
       nothing when a version with the same fingerprint (dataset content hash + these
       parameters + code version) exists, unless `force`.
    5. promote_model: validation gate. The candidate must meet `promotion_thresholds` and not
       be worse than the current `champion` on `promotion_metric` by more than
       `promotion_tolerance`, both re-scored on this run's test set; no decision on a test set
       of fewer than `promotion_min_test_rows` rows or `promotion_min_class_rows` of either class. Passing moves `champion`
       (old one -> `previous-champion`); failing sets `challenger`. Decision tagged on the version.
       `promotion` "approval" (prod's schedule): a pass sets `challenger` and waits for `churnops models
       approve` for `approval_hours`; `promotion_guard` "enforce" puts back alias moves made outside churnops.
    6. end_orphaned_runs (exit handler, after steps 1-5 whatever happened): when they did not all
       succeed, the MLflow runs of this KFP run still RUNNING are marked FAILED.

    Returns nothing: a pipeline whose body is in a dsl.ExitHandler cannot return a task's output
    (kfp 2.17.3 compiler); the version number is register_model's output (`churnops train` reads it there).
    """
    # The exit handler (issue 16): runs after the body whatever happened, also when a pod was
    # killed (OOM, eviction) and none of our own exit code ran; it marks FAILED the MLflow runs of
    # this KFP run left RUNNING (every run a step opens carries kfp.run_id). KFP fills `status`.
    ended = orphaned_runs_exit_task(mlflow_tracking_uri, mlflow_experiment_name)
    with dsl.ExitHandler(ended, name="training"):
        data = load_and_preprocess_data(
            dataset_uri=dataset_uri,
            test_size_ratio=test_size_ratio,
            target_column=target_column,
            positive_label=positive_label,
            random_state=random_state,
        ).set_display_name("Load and split data")

        with dsl.If(model_type == SEARCH, name="candidate-search"):
            search = start_candidate_search(
                x_train=data.outputs["x_train"],
                mlflow_tracking_uri=mlflow_tracking_uri,
                mlflow_experiment_name=mlflow_experiment_name,
                model_name=model_name,
                search_space=search_space,
                cv_folds=search_cv_folds,
                search_budget=search_budget,
                kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            ).set_display_name("Start candidate search")
            with dsl.ParallelFor(search_space, parallelism=SEARCH_PARALLELISM, name="model-families") as family:
                scored = score_model_family(
                    x_train=data.outputs["x_train"],
                    y_train=data.outputs["y_train"],
                    search_run=search.outputs["search_run"],
                    family=family,
                    cv_folds=search_cv_folds,
                    random_state=random_state,
                    search_budget=search_budget,
                ).set_display_name("Cross-validate model family")
            best = select_best_candidate(
                family_scores=dsl.Collected(scored.output),
                search_space=search_space,
                search_run=search.outputs["search_run"],
            ).set_display_name("Select best candidate")
        with dsl.Else(name="single-model"):
            single = single_model(model_type=model_type, hyperparameters=hyperparameters).set_display_name(
                "Single model"
            )

        trained = train_model(
            x_train=data.outputs["x_train"],
            y_train=data.outputs["y_train"],
            mlflow_tracking_uri=mlflow_tracking_uri,
            mlflow_experiment_name=mlflow_experiment_name,
            model_name=model_name,
            model_type=model_type,
            hyperparameters=hyperparameters,
            random_state=random_state,
            candidate=dsl.OneOf(best.output, single.output),
            decision_threshold=decision_threshold,
            # Filled by KFP at run time, kfp.local included: the MLflow run says which KFP run made it.
            # Not PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER: kfp 2.17.3's local runner fails on it
            # (kfp/local/placeholder_utils.py convert_placeholder_parts_to_path: IndexError).
            kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            kfp_run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            kfp_pipeline_name=PIPELINE_NAME,
        ).set_display_name("Train model")

        evaluated = evaluate_model(
            x_test=data.outputs["x_test"],
            y_test=data.outputs["y_test"],
            model=trained.outputs["model"],
            decision_threshold=decision_threshold,
        ).set_display_name("Evaluate on holdout")

        profiled = profile_reference(
            x_train=data.outputs["x_train"],
            x_test=data.outputs["x_test"],
            model=trained.outputs["model"],
            model_name=model_name,
        ).set_display_name("Reference profile")

        registered = register_model(
            model=trained.outputs["model"],
            model_name=model_name,
            test_metrics=evaluated.outputs["Output"],
            fingerprint=fingerprint_training(
                x_train=data.outputs["x_train"],
                model_type=model_type,
                hyperparameters=hyperparameters,
                decision_threshold=decision_threshold,
                search_space=search_space,
                search_cv_folds=search_cv_folds,
                search_budget=search_budget,
            ).set_display_name("Fingerprint inputs").output,
            force=force,
        ).set_display_name("Register model version").after(profiled)  # never a version without its profile

        promote_model(
            model=trained.outputs["model"],
            x_test=data.outputs["x_test"],
            y_test=data.outputs["y_test"],
            model_name=model_name,
            model_version=registered.output,
            promotion_thresholds=promotion_thresholds,
            promotion_metric=promotion_metric,
            promotion_tolerance=promotion_tolerance,
            decision_threshold=decision_threshold,
            promotion_min_test_rows=promotion_min_test_rows,
            promotion_min_class_rows=promotion_min_class_rows,
            promotion=promotion,
            promotion_guard=promotion_guard,
            approval_hours=approval_hours,
        ).set_display_name("Validation gate (promote)")
