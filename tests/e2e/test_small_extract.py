"""Issue 16, Why 3: a 12-row extract (a holdout of 2-3 rows, ROC AUC 1.0 by luck) replaced a champion trained on Telco."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnops.app import runs

pytestmark = pytest.mark.e2e


def test_a_telco_champion_stays_champion_against_a_12_row_extract(telco_csv, tmp_path):
    home = tmp_path / "home"
    first = runs.train(str(telco_csv), home=home, hyperparameters={"C": 1.0})
    assert first["promoted"] and first["aliases"]["champion"] == first["model_version"]
    extract = tmp_path / "extract.csv"
    pd.read_csv(telco_csv, dtype=str, keep_default_na=False).head(12).to_csv(extract, index=False)
    small = runs.train(str(extract), home=home, hyperparameters={"C": 1.0})
    assert small["promoted"] is False
    assert small["aliases"]["champion"] == first["model_version"]
    assert small["tags"]["validation_reason"].startswith("the holdout is too small to decide")
    evidence = json.loads(small["tags"]["validation_evidence"])
    assert evidence["test_rows"] == 3 and evidence["min_test_rows"] > 3
