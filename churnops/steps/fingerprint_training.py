"""Step `fingerprint_training`: the run's fingerprint (dataset content hash + training parameters + code)."""

from __future__ import annotations

from typing import Any

from churnops.core.fingerprint import training_fingerprint
from churnops.core.search_space import search_settings


def run(
    dataset_info: dict[str, Any],
    model_type: str,
    hyperparameters: dict[str, Any],
    decision_threshold: float,
    search_space: list[dict[str, Any]],
    search_cv_folds: int,
    search_budget: dict[str, Any],
) -> str:
    """`dataset_info` is what load_and_preprocess_data reported (the x_train metadata)."""
    return training_fingerprint(
        dataset_info["dataset_sha256"],
        target_column=dataset_info["target_column"],
        positive_label=dataset_info["positive_label"],
        test_size_ratio=dataset_info["test_size_ratio"],
        random_state=dataset_info["random_state"],
        model_type=model_type,
        hyperparameters=hyperparameters,
        decision_threshold=decision_threshold,
        search=search_settings(model_type, search_space, search_cv_folds, search_budget),
    )
