"""The search space: the candidate models a search tries, and how the winner is chosen.

Standard library only (churnops.core.estimators imports scikit-learn lazily): the pipeline's cheap
steps (pick the single model, select the best score) import this module without paying for scikit-learn or MLflow.

The search space is a list of model families, each an estimator with a small grid; it travels as a
KFP parameter (the items of the `dsl.ParallelFor`: one task per family, which scores every
setting of its grid). Each setting is a candidate, a plain dict:
    {"name": "logistic_regression(C=1.0)", "model_type": "logistic_regression", "hyperparameters": {"C": 1.0}}
One task per family, not per setting: every task is a process (a pod on a cluster) that pays
~4 s of imports and MLflow store set-up, more than fitting a small grid costs.
"""

from __future__ import annotations

import math
from typing import Any

from churnops.core.estimators import ESTIMATORS, check_hyperparameters
from churnops.errors import ChurnopsError

# `model_type` value that asks for the search instead of one named estimator.
SEARCH = "auto"
MODEL_TYPES = tuple(ESTIMATORS)  # every estimator churnops can build, in their listed order

# Small on purpose: 7 settings x 3 folds take ~10 s of CPU on 5-7k rows. Each grid is ordered
# simplest first, and families simplest first: on a tie of the CV score the earlier one wins.
DEFAULT_SEARCH_SPACE: list[dict[str, Any]] = [
    {"model_type": "logistic_regression", "grid": [{"C": 0.1}, {"C": 1.0}, {"C": 10.0}]},
    {"model_type": "random_forest", "grid": [
        {"n_estimators": 200, "min_samples_leaf": 20},
        {"n_estimators": 200, "min_samples_leaf": 5},
    ]},
    {"model_type": "hist_gradient_boosting", "grid": [
        {"learning_rate": 0.05, "max_depth": 3, "max_iter": 200},
        {"learning_rate": 0.05, "max_depth": 6, "max_iter": 200, "l2_regularization": 1.0},
    ]},
]
# A difference smaller than this between two mean CV ROC AUCs is noise: keep the simpler one.
TIE_TOLERANCE = 1e-4


def normalise(hyperparameters: dict[str, Any] | None) -> dict[str, Any]:
    """Keys sorted, whole floats as ints: a KFP parameter comes back as a protobuf Struct, which
    sorts keys and turns 200 into 200.0; both sides of the pipeline must name a candidate alike."""
    return {
        key: int(value) if isinstance(value, float) and value.is_integer() else value
        for key, value in sorted((hyperparameters or {}).items())
    }


def candidate_name(model_type: str, hyperparameters: dict[str, Any]) -> str:
    settings = ",".join(f"{key}={value}" for key, value in normalise(hyperparameters).items())
    return f"{model_type}({settings})"


def single_candidate(model_type: str, hyperparameters: dict[str, Any] | None) -> dict[str, Any]:
    """The one candidate of single-model mode."""
    hyperparameters = normalise(hyperparameters)
    return {"name": candidate_name(model_type, hyperparameters), "model_type": model_type,
            "hyperparameters": hyperparameters}


def expand(family: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidates of one family: one per grid entry (no grid: the estimator's defaults)."""
    return [single_candidate(family["model_type"], settings) for settings in family.get("grid") or [{}]]


def check_search_space(space: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refuse a search space the search could not run, naming the bad entry and the fix."""
    if not isinstance(space, list) or not space:
        raise ChurnopsError("The search space is empty; give at least one model family or use the default.")
    seen: set[str] = set()
    for index, family in enumerate(space):
        where = f"Search space entry #{index + 1} ({family!r})"
        if not isinstance(family, dict) or "model_type" not in family or set(family) - {"model_type", "grid"}:
            raise ChurnopsError(
                f"{where} must be an object with 'model_type' and an optional 'grid' (a list of "
                'hyperparameter objects), e.g. {"model_type": "logistic_regression", "grid": [{"C": 1.0}]}.'
            )
        if family["model_type"] not in MODEL_TYPES:
            raise ChurnopsError(
                f"{where} has unknown model_type {family['model_type']!r}; choose one of {list(MODEL_TYPES)}."
            )
        grid = family.get("grid", [])
        if not isinstance(grid, list) or not all(isinstance(settings, dict) for settings in grid):
            raise ChurnopsError(f"{where}: 'grid' must be a list of objects of hyperparameter name -> value.")
        if family["model_type"] in seen:
            raise ChurnopsError(
                f"{where} repeats model_type {family['model_type']!r}; put all its settings in one grid."
            )
        seen.add(family["model_type"])
        for candidate in expand(family):
            try:
                check_hyperparameters(candidate["model_type"], candidate["hyperparameters"])
            except ChurnopsError as exc:
                raise ChurnopsError(f"{where}: candidate {candidate['name']}: {exc}") from None
    return space


def candidate_order(space: list[dict[str, Any]]) -> list[str]:
    """Every candidate's name in search-space order (the tie-break order)."""
    return [candidate["name"] for family in space for candidate in expand(family)]


def select_best(scores: list[dict[str, Any]], order: list[str] | None = None) -> dict[str, Any]:
    """The score with the highest mean CV ROC AUC; ties (within TIE_TOLERANCE) go to the earlier candidate.

    `scores` are the candidates' scores (churnops.search.cross_validate) in any order (parallel
    tasks finish in any order); `order` is the candidate names in search-space order, used only
    to break ties. Only scores on the most rows compete (successive halving, churnops.core.halving:
    a setting eliminated on a small subsample never faces one scored on the final budget).
    """
    usable = [score for score in scores if score.get("cv_roc_auc") is not None
              and not math.isnan(float(score["cv_roc_auc"]))]
    most_rows = max((int(score.get("cv_rows") or 0) for score in usable), default=0)
    usable = [score for score in usable if int(score.get("cv_rows") or 0) == most_rows]
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


def leaderboard(scores: list[dict[str, Any]], selected: str | None = None) -> list[dict[str, Any]]:
    """Scores for the parent run's `search/leaderboard.json`: the selected candidate first, then best first.

    Each entry gets `rank` (1 = the selected one) and `selected`: a tie within TIE_TOLERANCE goes
    to the simpler candidate, which may have a hair lower mean score than the one after it, and a
    reader must not have to re-derive which one won. `selected` None: plain best-first order.
    """
    # Scores on more rows (later halving rounds) first, then the best score first.
    ordered = sorted(scores, key=lambda score: (-int(score.get("cv_rows") or 0),
                                                -float(score.get("cv_roc_auc") or float("-inf"))))
    if selected is not None:
        ordered = [s for s in ordered if s.get("name") == selected] + [s for s in ordered if s.get("name") != selected]
    return [{**score, "hyperparameters": normalise(score.get("hyperparameters")), "rank": position,
             "selected": selected is not None and score.get("name") == selected}
            for position, score in enumerate(ordered, start=1)]


def flatten(family_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The candidates' scores out of the score tasks' results (one per family, via dsl.Collected)."""
    return [score for result in family_results for score in result["scores"]]


def search_settings(model_type: str, search_space: list[dict[str, Any]], cv_folds: int,
                    budget: dict[str, Any]) -> dict[str, Any] | None:
    """What the fingerprint must cover in search mode: the space, the folds and the budget decide the model."""
    if model_type != SEARCH:
        return None
    return {"space": search_space, "cv_folds": cv_folds, "budget": normalise(budget)}
