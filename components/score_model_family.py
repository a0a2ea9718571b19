from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def score_model_family(
    x_train: dsl.Input[dsl.Dataset],
    y_train: dsl.Input[dsl.Dataset],
    search_run: dsl.Input[dsl.Artifact],
    family: dict,
    cv_folds: int,
    random_state: int,
    search_budget: dict,
) -> dict:
    """Stratified k-fold ROC AUC on the training split of the settings in one model family's grid,
    by successive halving over row budgets (`search_budget`, churnops.core.halving).

    Each setting is logged as an MLflow run nested under the search's parent run. Returns
    {"model_type", "scores": [{name, model_type, hyperparameters, cv_roc_auc, cv_roc_auc_std,
    run_id, ...}]} for select_best_candidate, which receives every family's result through
    dsl.Collected.
    """
    from churnops.steps.runtime import skip_teardown_at_exit

    skip_teardown_at_exit()

    from churnops.steps import score_model_family as step

    return step.run(x_train.path, y_train.path, family, dict(search_run.metadata), cv_folds, random_state,
                    search_budget)
