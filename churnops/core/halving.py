"""Successive halving over row budgets: what the search costs stays near a few fits as data grows (pure).

A family's settings are cross-validated first on a small stratified subsample of the training
split; the best 1/`factor` of them go on to a `factor` times larger subsample, and so on, until
one is left, scored on the final budget: all rows, or `max_rows` when the split is larger (the
refit in train_model always uses every row). The idea is scikit-learn's successive halving
(`sklearn.model_selection.HalvingGridSearchCV`, resource "n_samples"); it is written out here
because every family's last round must land on exactly the *same* row budget, so that the
families' winners, scored in separate tasks (pods), compare on equal terms in
select_best_candidate, and because each round is logged to MLflow as it ends. (From memory, not
re-read: HalvingGridSearchCV derives its rounds from each search's own candidate count, so equal
final budgets across grids of different sizes would rest on its rounding.)

"exhaustive" scores every setting on the final budget (what the search did before halving).
Standard library only: the CLI and the schedule checks validate a budget without scikit-learn.
"""

from __future__ import annotations

import math
from typing import Any

from churnops.errors import ChurnopsError

HALVING = "halving"
EXHAUSTIVE = "exhaustive"
STRATEGIES = (HALVING, EXHAUSTIVE)
BUDGET_KEYS = ("strategy", "factor", "max_rows", "min_rows")


def budget_problems(budget: Any) -> list[str]:
    """Every problem with a search budget, naming the key, the value and what is accepted."""
    if not isinstance(budget, dict):
        return [f"search_budget must be an object with keys {list(BUDGET_KEYS)}, got {budget!r}"]
    problems = []
    unknown = sorted(set(budget) - set(BUDGET_KEYS))
    if unknown:
        problems.append(f"search_budget has unknown key(s) {unknown}; it takes {list(BUDGET_KEYS)}")
    if budget.get("strategy", HALVING) not in STRATEGIES:
        problems.append(f"search_budget strategy {budget.get('strategy')!r} is unknown; choose one of {list(STRATEGIES)}")
    for key, least, meaning in (("factor", 2, "a whole number >= 2 (each round keeps 1/factor of the settings)"),
                                ("max_rows", 0, "a whole number >= 0 (0: every row of the training split)"),
                                ("min_rows", 1, "a whole number >= 1 (the smallest subsample a round ranks on)")):
        if key in budget and not (_whole(budget[key]) and budget[key] >= least):
            problems.append(f"search_budget {key} must be {meaning}, got {budget[key]!r}")
    return problems


def checked_budget(budget: dict[str, Any] | None, default: dict[str, Any]) -> dict[str, Any]:
    """`budget` (None: `default`) normalised, or ChurnopsError naming every problem with it."""
    budget = normalise_budget(default if budget is None else budget)
    problems = budget_problems(budget)
    if problems:
        raise ChurnopsError("; ".join(problems))
    return budget


def normalise_budget(budget: dict[str, Any]) -> dict[str, Any]:
    """Whole floats as ints (a KFP dict parameter arrives as a protobuf Struct: 3 -> 3.0), keys sorted."""
    return {key: int(value) if isinstance(value, float) and value.is_integer() else value
            for key, value in sorted(budget.items())}


def final_rows(n_rows: int, budget: dict[str, Any]) -> int:
    """The row budget every family's last round uses: all rows, or max_rows when there are more."""
    cap = int(budget.get("max_rows", 0))
    return n_rows if cap <= 0 else min(n_rows, cap)


def schedule(n_candidates: int, n_rows: int, budget: dict[str, Any]) -> list[tuple[int, int]]:
    """The rounds as (rows, how many settings are scored on them), first round first.

    Halving with factor f over n settings: up to ceil(log_f n) + 1 rounds; round k of R scores
    ceil(n / f^k) settings on final // f^(R-1-k) rows. No round ranks on fewer than min_rows
    rows: with too few rows for every round, the first ones are left out (the last round then
    scores more than one setting; on data smaller than f * min_rows the search is exhaustive).
    """
    if n_candidates < 1:
        raise ValueError("a family has at least one setting")
    final = final_rows(n_rows, budget)
    if budget.get("strategy", HALVING) == EXHAUSTIVE or n_candidates == 1:
        return [(final, n_candidates)]
    factor, least = int(budget.get("factor", 3)), int(budget.get("min_rows", 1))
    needed = 1
    while math.ceil(n_candidates / factor ** (needed - 1)) > 1:
        needed += 1
    affordable = 1
    while final // factor ** affordable >= least:
        affordable += 1
    rounds = min(needed, affordable)
    return [(final // factor ** (rounds - 1 - k), math.ceil(n_candidates / factor ** k)) for k in range(rounds)]


def survivors(scores: list[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    """The `keep` best scores by mean CV ROC AUC; ties go to the earlier (simpler) setting.

    A setting whose score is missing or NaN (it failed to fit on the subsample) never survives.
    """
    usable = [(position, score) for position, score in enumerate(scores)
              if score.get("cv_roc_auc") is not None and not math.isnan(float(score["cv_roc_auc"]))]
    usable.sort(key=lambda item: (-float(item[1]["cv_roc_auc"]), item[0]))
    return [score for _, score in sorted(usable[:keep], key=lambda item: item[0])]


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
