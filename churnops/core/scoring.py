"""Check rows before they are scored: required columns, and values that are not numbers (no I/O here).

Input problems never become silent NaNs: a missing required column stops the job before anything
is scored; a value that is not a number in a numeric column sends that row to a rejection file
(with its row number and the offending value). Blank numeric values (empty or whitespace only,
e.g. Telco's TotalCharges for customers with tenure 0) are *missing*, not garbage: the model
imputes them exactly as it did in training.
"""

from __future__ import annotations

import pandas as pd

from churnops.core.features import FeatureSpec, parse_numbers
from churnops.errors import DatasetError

OUTPUT_COLUMNS = ("churn_probability", "churn_predicted", "model_name", "model_version")


def check_columns(columns: list[str], spec: FeatureSpec, input_uri: str, model: str) -> None:
    missing = [column for column in spec.features if column not in columns]
    if missing:
        raise DatasetError(
            f"Input {input_uri} is missing column(s) {missing} that {model} needs "
            f"(it scores {spec.features}). Add them to the file, or score it with a model trained on its columns."
        )


def split_rejects(chunk: pd.DataFrame, spec: FeatureSpec, first_row: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(good rows, rejected rows with `row`, `problems`). Blank numbers are missing, not rejected."""
    good, rejected, _ = _split(chunk, spec, first_row)
    return good, rejected


def split_typed(chunk: pd.DataFrame, spec: FeatureSpec, first_row: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """split_rejects plus the good rows' model input, from the one parse of each numeric column.

    The model input equals churnops.core.fitting.typed_features(good rows) (floats for numbers,
    NaN where blank; text or None for categories) without parsing every number a second time.
    """
    good, rejected, parsed = _split(chunk, spec, first_row)
    keep = parsed.pop(None)
    typed = pd.DataFrame(index=good.index)
    for column in spec.numeric:
        typed[column] = parsed[column][keep]
    for column in spec.categorical:
        values = good[column].astype(object)
        typed[column] = values.where(values.notna(), None)
    return good, rejected, typed[spec.features]


def _split(chunk: pd.DataFrame, spec: FeatureSpec, first_row: int):
    problems = pd.Series("", index=chunk.index, dtype=object)
    parsed: dict = {}
    for column in spec.numeric:
        numbers, bad = parse_numbers(chunk[column])
        if bad.any():
            problems[bad] += column + "=" + chunk.loc[bad, column].map(repr) + " is not a number; "
        parsed[column] = numbers
    rejected = problems != ""
    parsed[None] = ~rejected.to_numpy(dtype=bool)
    rows = chunk.loc[rejected, spec.id_columns].copy() if spec.id_columns else pd.DataFrame(index=chunk.index[rejected])
    rows.insert(0, "row", chunk.index[rejected] - chunk.index[0] + first_row)
    rows["problems"] = problems[rejected].str.rstrip("; ")
    return chunk.loc[~rejected], rows, parsed
