from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def score_candidate(
    x_train: dsl.Input[dsl.Dataset],
    y_train: dsl.Input[dsl.Dataset],
    search_run: dsl.Input[dsl.Artifact],
    candidate: dict,
    cv_folds: int = 3,
    random_state: int = 42,
) -> dict:
    """Stratified k-fold ROC AUC of one candidate on the training split, logged as a nested MLflow run.

    Returns the score (name, model_type, hyperparameters, cv_roc_auc, cv_roc_auc_std, run_id) for
    select_best_candidate, which receives all of them through dsl.Collected.
    """
    from churnops.search import score_candidate as score

    return score(x_train.path, y_train.path, candidate, dict(search_run.metadata), cv_folds, random_state)
