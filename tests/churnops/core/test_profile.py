"""The reference profile: shares that add up, the KS grid, the schema check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnops.core.profile import SCHEMA_VERSION, build_profile, check_profile, numeric_bin_counts
from churnops.errors import ChurnopsError


@pytest.fixture
def profile():
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"tenure": rng.integers(0, 72, 500).astype(float),
                             "Contract": rng.choice(["Month-to-month", "One year", "Two year"], 500).astype(object)})
    features.loc[:9, "tenure"] = np.nan
    features.loc[:4, "Contract"] = None
    return build_profile(features, ["tenure"], ["Contract"], rng.random(100), model_name="m", run_id="r")


def test_numeric_and_categorical_shares_cover_every_row_missing_included(profile):
    tenure, contract = profile["features"]["tenure"], profile["features"]["Contract"]
    assert sum(tenure["shares"]) == pytest.approx(1) and tenure["shares"][-1] == pytest.approx(10 / 500)
    assert len(tenure["shares"]) == len(tenure["edges"]) + 2  # ranges, then missing
    assert sum(contract["categories"].values()) + contract["missing_share"] == pytest.approx(1)
    assert contract["other_share"] == 0 and set(contract["categories"]) == {"Month-to-month", "One year", "Two year"}
    assert tenure["cdf"][-1] == 1.0 and tenure["cdf"] == sorted(tenure["cdf"])
    assert (profile["schema_version"], profile["training_rows"], profile["holdout_rows"]) == (SCHEMA_VERSION, 500, 100)


def test_bins_put_a_value_on_an_edge_in_the_lower_bin():
    assert numeric_bin_counts([1.0, 2.0], np.array([1.0, 1.5, 2.0, 3.0, np.nan])).tolist() == [1, 2, 1, 1]


def test_a_profile_of_another_schema_version_says_what_to_do(profile):
    assert check_profile(profile, "x") is profile
    with pytest.raises(ChurnopsError, match="schema_version 99; this churnops reads 1. Retrain"):
        check_profile({**profile, "schema_version": 99}, "The profile of m v1")
