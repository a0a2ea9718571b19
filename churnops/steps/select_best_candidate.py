"""Step `select_best_candidate`: the best mean CV ROC AUC of every family's scores (ties: the simpler one)."""

from __future__ import annotations

from typing import Any

from churnops.core.search_space import candidate_order, flatten, leaderboard, select_best


def run(family_scores: list[dict[str, Any]], search_space: list[dict[str, Any]], search_run_id: str) -> dict[str, Any]:
    """The winner with the search's parent run id (train_model logs into it) and the leaderboard."""
    scores = flatten(family_scores)
    best = select_best(scores, candidate_order(search_space))
    return {**best, "run_id": search_run_id, "leaderboard": leaderboard(scores, best["name"])}
