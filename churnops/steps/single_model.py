"""Step `single_model`: single-model mode's one candidate, in the shape the search selects."""

from __future__ import annotations

from typing import Any

from churnops.core.search_space import single_candidate


def run(model_type: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    return single_candidate(model_type, hyperparameters)
