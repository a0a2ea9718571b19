"""The shipped dataset is exactly what the generator makes, and it has the Telco schema."""

from __future__ import annotations

import hashlib
import importlib.util

import pandas as pd
from support.paths import REPO


def load_generator():
    spec = importlib.util.spec_from_file_location("generator", REPO / "scripts" / "generate_synthetic_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_file_is_reproduced_byte_for_byte(tmp_path):
    generator = load_generator()
    assert generator.main(["--output", str(tmp_path / "again.csv")]) == 0
    committed = (REPO / "data" / "churn_synthetic.csv").read_bytes()
    assert hashlib.sha256((tmp_path / "again.csv").read_bytes()).hexdigest() == hashlib.sha256(committed).hexdigest()
    readme = (REPO / "data" / "README.md").read_text()
    assert hashlib.sha256(committed).hexdigest() in readme, "data/README.md must state the file's sha256"


def test_schema_and_quirks_match_telco(synthetic_csv, telco_csv):
    ours = pd.read_csv(synthetic_csv, dtype=str, keep_default_na=False)
    telco = pd.read_csv(telco_csv, dtype=str, keep_default_na=False)
    assert list(ours.columns) == list(telco.columns)
    for column in telco.columns:
        if telco[column].nunique() <= 10:  # categorical: same value set
            assert set(ours[column]) == set(telco[column]), column
    assert (ours["TotalCharges"] == " ").sum() > 0
    assert ((ours["TotalCharges"] == " ") == (ours["tenure"] == "0")).all()
    assert ours["customerID"].is_unique
    assert 0.2 < (ours["Churn"] == "Yes").mean() < 0.32
