from typing import List

from kfp import dsl

from components.images import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def select_best_candidate(
    family_scores: List[dict],
    search_space: list,
    search_run: dsl.Input[dsl.Artifact],
) -> dict:
    """Pick the candidate with the best mean CV ROC AUC (ties: the earlier, simpler one).

    Returns it with the parent run id, so train_model refits it on the whole training split and
    logs the model into the parent run, plus the leaderboard of every candidate.
    """
    from churnops.steps import select_best_candidate as step

    return step.run(family_scores, search_space, search_run.metadata["run_id"])
