"""The candidate models a search tries, and how the winner is chosen.

Standard library only: the pipeline's cheap steps (pick the single model, select the best score)
import this module without paying for scikit-learn or MLflow.

A candidate is a plain dict, because it travels as a KFP parameter (a list item of
`dsl.ParallelFor`, an output collected with `dsl.Collected`):
    {"name": "logreg-C1", "model_type": "logistic_regression", "hyperparameters": {"C": 1.0}}
"""

from __future__ import annotations

import math
from typing import Any

from churnops.errors import ChurnopsError

# `model_type` value that asks for the search instead of one named estimator.
SEARCH = "auto"
MODEL_TYPES = ("logistic_regression", "random_forest", "hist_gradient_boosting")

# Small on purpose: 7 candidates x 3 folds fit in ~30 s on 2 cores for 5-7k rows. Ordered
# simplest first: on a tie of the cross-validated score the earlier one wins.
DEFAULT_CANDIDATES: list[dict[str, Any]] = [
    {"name": "logreg-C0.1", "model_type": "logistic_regression", "hyperparameters": {"C": 0.1}},
    {"name": "logreg-C1", "model_type": "logistic_regression", "hyperparameters": {"C": 1.0}},
    {"name": "logreg-C10", "model_type": "logistic_regression", "hyperparameters": {"C": 10.0}},
    {"name": "forest-leaf5", "model_type": "random_forest",
     "hyperparameters": {"n_estimators": 200, "min_samples_leaf": 5}},
    {"name": "forest-leaf20", "model_type": "random_forest",
     "hyperparameters": {"n_estimators": 200, "min_samples_leaf": 20}},
    {"name": "hgb-depth3", "model_type": "hist_gradient_boosting",
     "hyperparameters": {"learning_rate": 0.05, "max_depth": 3, "max_iter": 200}},
    {"name": "hgb-depth6", "model_type": "hist_gradient_boosting",
     "hyperparameters": {"learning_rate": 0.05, "max_depth": 6, "max_iter": 200, "l2_regularization": 1.0}},
]
# A difference smaller than this between two mean CV ROC AUCs is noise: keep the simpler one.
TIE_TOLERANCE = 1e-4


def single_candidate(model_type: str, hyperparameters: dict[str, Any] | None) -> dict[str, Any]:
    """The one candidate of single-model mode."""
    return {"name": model_type, "model_type": model_type, "hyperparameters": dict(hyperparameters or {})}


def check_candidates(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refuse a candidate list the search could not run, naming the bad entry and the fix."""
    if not isinstance(candidates, list) or not candidates:
        raise ChurnopsError("The candidate list is empty; give at least one candidate or use the default list.")
    names: set[str] = set()
    for index, candidate in enumerate(candidates):
        where = f"Candidate #{index + 1} ({candidate!r})"
        if not isinstance(candidate, dict) or not {"name", "model_type"} <= set(candidate):
            raise ChurnopsError(
                f"{where} must be an object with 'name', 'model_type' and optional 'hyperparameters'."
            )
        if candidate["model_type"] not in MODEL_TYPES:
            raise ChurnopsError(
                f"{where} has unknown model_type {candidate['model_type']!r}; choose one of {list(MODEL_TYPES)}."
            )
        if not isinstance(candidate.get("hyperparameters", {}), dict):
            raise ChurnopsError(f"{where}: 'hyperparameters' must be an object of name -> value.")
        if candidate["name"] in names:
            raise ChurnopsError(f"{where} repeats the name {candidate['name']!r}; candidate names must be unique.")
        names.add(candidate["name"])
    return candidates


def select_best(scores: list[dict[str, Any]], order: list[str] | None = None) -> dict[str, Any]:
    """The score with the highest mean CV ROC AUC; ties (within TIE_TOLERANCE) go to the earlier candidate.

    `scores` are what churnops.search.score_candidate returned, in any order (parallel tasks finish
    in any order); `order` is the candidate names in grid order, used only to break ties.
    """
    usable = [score for score in scores if score.get("cv_roc_auc") is not None
              and not math.isnan(float(score["cv_roc_auc"]))]
    if not usable:
        names = [score.get("name") for score in scores]
        raise ChurnopsError(
            f"No candidate produced a cross-validation score (candidates: {names}). "
            "Check the step logs of the score tasks; the training split may be too small for the folds."
        )
    rank = {name: position for position, name in enumerate(order or [])}
    usable.sort(key=lambda score: rank.get(score["name"], len(rank)))
    best = usable[0]
    for score in usable[1:]:
        if float(score["cv_roc_auc"]) > float(best["cv_roc_auc"]) + TIE_TOLERANCE:
            best = score
    return best


def leaderboard(scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scores sorted best first, for the parent run's `search/leaderboard.json`."""
    return sorted(scores, key=lambda score: -float(score.get("cv_roc_auc") or float("-inf")))
