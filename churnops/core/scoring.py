"""Check rows before they are scored: required columns, and values that are not numbers (no I/O here).

Input problems never become silent NaNs: a missing required column stops the job before anything
is scored; a value that is not a number in a numeric column sends that row to a rejection file
(with its row number and the offending value). Blank numeric values (empty or whitespace only,
e.g. Telco's TotalCharges for customers with tenure 0) are *missing*, not garbage: the model
imputes them exactly as it did in training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnops.core.features import FeatureSpec
from churnops.errors import DatasetError

OUTPUT_COLUMNS = ("churn_probability", "churn_predicted", "model_name", "model_version")
MISSING_CATEGORY = "missing"  # churnops.core.features.CategoryText's text for a blank category
SHOWN_VALUES = 3  # unseen values quoted per column in a message


class CategoryCheck:
    """Categories checked like numbers: values a categorical feature never had in training.

    The model scores them (its one-hot encoder ignores an unknown value, as if every category were
    off), so they are counted and reported, never silent: per column, with a few of the values, and
    the rows that hold at least one. Online and batch use this same check on the same text. A blank
    (or null) category is missing, not unseen, as a blank number is: a column blank on every row is
    what blank_columns reports.
    """

    def __init__(self, known: dict[str, frozenset[str]]) -> None:
        self.known = known
        self.counts: dict[str, int] = {}
        self.values: dict[str, list[str]] = {}
        self.rows = 0

    def add(self, frame: pd.DataFrame) -> dict[str, int]:
        """Count the unseen values of these rows (raw text or None per cell); returns this frame's counts."""
        found: dict[str, int] = {}
        any_row = np.zeros(len(frame), dtype=bool)
        for column, seen in self.known.items():
            if column not in frame.columns:
                continue
            values = frame[column].astype(object)
            text = values.where(values.notna(), MISSING_CATEGORY).astype(str)
            unseen = (~text.isin(seen) & values.notna()).to_numpy(dtype=bool)
            if unseen.any():
                found[column] = int(unseen.sum())
                self.counts[column] = self.counts.get(column, 0) + found[column]
                examples = self.values.setdefault(column, [])
                for value in dict.fromkeys(text[unseen]):
                    if len(examples) >= SHOWN_VALUES:
                        break
                    if value not in examples:
                        examples.append(value)
                any_row |= unseen
        self.rows += int(any_row.sum())
        return found

    def describe(self) -> str:
        return "; ".join(f"{column}: {count} value(s) never seen in training, e.g. "
                         + ", ".join(repr(value if len(value) <= 40 else value[:40] + "...") for value in self.values[column])
                         for column, count in sorted(self.counts.items()))


def blank_columns(present: dict[str, int], columns: list[str]) -> list[str]:
    """The columns with no value in any row (`present`: non-blank cells per column)."""
    return [column for column in columns if present.get(column, 0) == 0]


def count_present(chunk: pd.DataFrame, columns: list[str], present: dict[str, int]) -> None:
    """Add each column's non-blank cells (not empty, not whitespace only) of `chunk` to `present`."""
    for column in columns:
        text = chunk[column].astype("string").str.strip()
        present[column] = present.get(column, 0) + int((text.notna() & (text != "")).sum())


def check_columns(columns: list[str], spec: FeatureSpec, input_uri: str, model: str,
                  fix: str = "Add them to the file, or score it with a model trained on its columns.") -> None:
    """Every feature the model scores must be a column; `fix`: what to do (a file's or a request's words)."""
    missing = [column for column in spec.features if column not in columns]
    if missing:
        by_case = {column.lower(): column for column in columns}
        renamed = [f"{by_case[name.lower()]!r} -> {name!r}" for name in missing if name.lower() in by_case]
        case = (f" Column names are case-sensitive: rename {', '.join(renamed)}." if renamed else "")
        raise DatasetError(
            f"Input {input_uri} is missing column(s) {missing} that {model} needs "
            f"(it scores {spec.features}).{case} {fix}"
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
        text = chunk[column].astype("string").str.strip()
        blank = (text.isna() | (text == "")).fillna(True).to_numpy(dtype=bool)
        numbers = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = ~blank & ~np.isfinite(numbers)
        if bad.any():
            problems[bad] += column + "=" + chunk.loc[bad, column].map(repr) + " is not a number; "
        parsed[column] = numbers
    rejected = problems != ""
    parsed[None] = ~rejected.to_numpy(dtype=bool)
    rows = chunk.loc[rejected, spec.id_columns].copy() if spec.id_columns else pd.DataFrame(index=chunk.index[rejected])
    rows.insert(0, "row", chunk.index[rejected] - chunk.index[0] + first_row)
    rows["problems"] = problems[rejected].str.rstrip("; ")
    return chunk.loc[~rejected], rows, parsed
