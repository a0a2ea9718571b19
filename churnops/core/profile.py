"""The reference profile of a model version: what its training data and holdout scores looked like (pure).

Built at training (churnops.steps.profile_reference) and stored as JSON next to the model
(churnops.registry.profiles); the drift check (churnops.core.drift) compares a scoring batch
with it. Versioned: `schema_version` changes when a reader would misread an older file.

    numeric:      PSI bins (edges at the training deciles; one bin per range plus `missing`)
                  and a KS grid (the distinct training percentiles and the training CDF there)
    categorical:  the share of every training category, plus `other` (a value training never
                  saw; 0 in the reference) and `missing`
    score:        the holdout's churn probabilities, profiled like a numeric feature
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnops.errors import ChurnopsError

SCHEMA = "churnops.reference-profile"
SCHEMA_VERSION = 1
PSI_QUANTILES = np.linspace(0.1, 0.9, 9)  # inner bin edges: the deciles
KS_QUANTILES = np.linspace(0.0, 1.0, 101)  # the grid the KS statistic is evaluated on: percentiles
OTHER = "__other__"  # a category value the reference never saw
MISSING = "__missing__"
SCORE = "churn_probability"


def numeric_reference(values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values, dtype="float64")
    present = values[~np.isnan(values)]
    if present.size == 0:
        return {"kind": "numeric", "rows": int(values.size), "edges": [], "shares": [1.0], "grid": [], "cdf": [],
                "missing_share": 1.0, "mean": None, "std": None}
    edges = np.unique(np.quantile(present, PSI_QUANTILES))
    grid = np.unique(np.quantile(present, KS_QUANTILES))
    counts = numeric_bin_counts(edges, values)
    cdf = np.searchsorted(np.sort(present), grid, side="right") / present.size
    return {
        "kind": "numeric",
        "rows": int(values.size),
        "edges": edges.tolist(),  # bins: x <= e0, e0 < x <= e1, ..., x > e_last, then missing
        "shares": (counts / values.size).tolist(),
        "grid": grid.tolist(),
        "cdf": cdf.tolist(),
        "missing_share": float(np.isnan(values).mean()),
        "mean": float(present.mean()),
        "std": float(present.std()),
    }


def numeric_bin_counts(edges, values: np.ndarray) -> np.ndarray:
    """Counts per PSI bin (len(edges) + 1 ranges, then missing) of `values` (floats, NaN = missing)."""
    values = np.asarray(values, dtype="float64")
    missing = np.isnan(values)
    index = np.searchsorted(np.asarray(edges, dtype="float64"), values[~missing], side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).astype("float64")
    return np.append(counts, float(missing.sum()))


def categorical_reference(values: pd.Series) -> dict[str, Any]:
    text = values.astype(object).where(values.notna(), None)
    present = text.dropna().astype(str)
    rows = len(text)
    shares = (present.value_counts() / rows).sort_index() if rows else pd.Series(dtype="float64")
    return {
        "kind": "categorical",
        "rows": rows,
        "categories": {str(name): float(share) for name, share in shares.items()},
        "other_share": 0.0,
        "missing_share": float(text.isna().mean()) if rows else 0.0,
    }


def build_profile(features: pd.DataFrame, numeric: list[str], categorical: list[str], holdout_scores: np.ndarray,
                  *, model_name: str = "", run_id: str = "") -> dict[str, Any]:
    """The profile of the training features (typed as the model reads them) and the holdout scores."""
    profile_features: dict[str, Any] = {}
    for column in numeric:
        profile_features[column] = numeric_reference(features[column].to_numpy(dtype="float64", na_value=np.nan))
    for column in categorical:
        profile_features[column] = categorical_reference(features[column])
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "model_name": model_name,
        "run_id": run_id,
        "training_rows": int(len(features)),
        "holdout_rows": int(len(holdout_scores)),
        "features": profile_features,
        "score": numeric_reference(np.asarray(holdout_scores, dtype="float64")),
    }


def check_profile(profile: dict[str, Any], where: str) -> dict[str, Any]:
    """The profile if this code can read it; else an error that says what to do."""
    if profile.get("schema") != SCHEMA:
        raise ChurnopsError(f"{where} is not a churnops reference profile (schema {profile.get('schema')!r}).")
    version = profile.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ChurnopsError(
            f"{where} has reference profile schema_version {version}; this churnops reads {SCHEMA_VERSION}. "
            "Retrain the model with this churnops version (the profile is written at training)."
        )
    return profile
