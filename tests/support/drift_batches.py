"""Scoring batches for the drift tests: rows drawn from the training data, and the same rows moved."""

from pathlib import Path

import pandas as pd


def write_batches(source_csv: Path, folder: Path, seed: int) -> Path:
    """`ok.csv`: 1000 rows of `source_csv` (target dropped); `drifted.csv`: the same rows with tenure
    and MonthlyCharges shifted and a Contract value training never saw on 50 rows."""
    rows = pd.read_csv(source_csv, dtype=str, keep_default_na=False).sample(1000, random_state=seed).drop(columns=["Churn"])
    rows.to_csv(folder / "ok.csv", index=False)
    moved = rows.copy()
    moved["tenure"] = (moved["tenure"].astype(float) * 0.5 + 20).round().astype(int).astype(str)
    moved["MonthlyCharges"] = (moved["MonthlyCharges"].astype(float) * 1.3).round(2).astype(str)
    moved.loc[moved.index[:50], "Contract"] = "Four year"
    moved.to_csv(folder / "drifted.csv", index=False)
    return folder
