"""Check a churn dataset can be trained on, and split it (a DataFrame in, no I/O here).

Every check runs before anything is trained or registered, and each failure says what is wrong
and how to fix it (a `DatasetError` with one line of text). Reading files and URIs is
churnops.storage.datasets.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from dataclasses import dataclass

import pandas as pd

from churnops.errors import DatasetError

# Target values read as "churned" when the caller does not name the positive label.
# Values that name churn (or its absence) in other words; compared stripped and lower-cased.
POSITIVE_LABELS = ("yes", "true", "1", "1.0", "y", "churn", "churned", "left", "leaver", "lost", "cancelled",
                   "canceled", "cancel", "terminated", "inactive", "exited", "attrited", "gone", "closed")
NEGATIVE_LABELS = ("no", "false", "0", "0.0", "n", "stay", "stayed", "retained", "active", "current", "kept",
                   "remained", "existing", "open", "loyal", "renewed", "not churned", "no churn")
# The same words inside longer values (`Attrited Customer` / `Existing Customer`): a value that has a
# churn word (and no negation) means churn; yes/true/1 mean churn only against no/false/0.
GENERIC_POSITIVE, GENERIC_NEGATIVE = ("yes", "true", "1", "1.0", "y"), ("no", "false", "0", "0.0", "n")
CHURN_WORDS = frozenset(POSITIVE_LABELS) - set(GENERIC_POSITIVE) | {"attrition", "departed", "quit", "churner"}
STAY_WORDS = frozenset(NEGATIVE_LABELS) - set(GENERIC_NEGATIVE) | {"retained", "stayer", "remaining"}
NEGATIONS = frozenset({"not", "no", "non", "never"})


@dataclass(frozen=True)
class Split:
    x_train: pd.DataFrame
    y_train: pd.Series
    x_test: pd.DataFrame
    y_test: pd.Series
    positive_label: str


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of the dataset, independent of where it was read from."""
    digest = hashlib.sha256()
    digest.update(",".join(frame.columns).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()


def resolve_positive_label(values: list[str], target: str, positive_label: str = "") -> str:
    """Which of the two target values means "churned"."""
    if positive_label:
        if positive_label not in values:
            raise DatasetError(
                f"positive_label {positive_label!r} is not a value of target column {target!r} "
                f"(values: {sorted(values)}). Pass one of those values."
            )
        return positive_label
    known = [value for value in values if value.strip().lower() in POSITIVE_LABELS]
    others = [value for value in values if value.strip().lower() in NEGATIVE_LABELS]
    if len(known) == 1 and len(others) == 1:
        return known[0]
    churn = [value for value in values if means_churn(value)]
    if len(churn) == 1 and not any(value.strip().lower() in GENERIC_POSITIVE for value in values if value != churn[0]):
        return churn[0]
    raise DatasetError(
        f"Cannot tell which value of target column {target!r} means churn: its two values are "
        f"{' and '.join(repr(v) for v in sorted(values))}. Pass the one that means the customer left with "
        f"--positive-label (for example --positive-label {sorted(values)[0]!r})."
    )


def means_churn(value: str) -> bool:
    """Whether a target value says the customer left, in its words: `Attrited Customer`, `Churned`, `Exited`
    (not `Not churned`, `No churn`); yes/true/1 alone are decided against their pair by the caller."""
    text = value.strip().lower()
    if text in GENERIC_POSITIVE or text in GENERIC_NEGATIVE:
        return False
    words = set(re.findall(r"[a-z]+", text))
    return bool(words & CHURN_WORDS) and not words & (NEGATIONS | STAY_WORDS)


def did_you_mean(name: str, columns: list[str]) -> str:
    """` Did you mean 'Churn'?` for a column name that differs only in case (or is a close typo), else ''."""
    same = [column for column in columns if column.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, [str(column) for column in columns], n=1, cutoff=0.8)
    return f" Did you mean {close[0]!r}{' (column names are case-sensitive)' if same else ''}?" if close else ""


def encode_target(frame: pd.DataFrame, target: str, positive_label: str = "") -> tuple[pd.Series, str]:
    """Check the target column and return it as 0/1 with the label that became 1."""
    if target not in frame.columns:
        raise DatasetError(
            f"Target column {target!r} is not in the dataset.{did_you_mean(target, list(frame.columns))} "
            f"Its columns are {list(frame.columns)}. Pass the right name with --target."
        )
    column = frame[target].astype("string").str.strip()
    missing = int(column.isna().sum() + (column == "").sum())
    if missing:
        raise DatasetError(
            f"Target column {target!r} is empty in {missing} row(s). Drop or label those rows before training."
        )
    values = sorted(column.unique().tolist())
    if len(values) == 1:
        raise DatasetError(
            f"Target column {target!r} has a single class ({values[0]!r}); training needs rows of both classes."
        )
    if len(values) > 2:
        shown = values[:10] + (["..."] if len(values) > 10 else [])
        raise DatasetError(
            f"Target column {target!r} must be binary but has {len(values)} values: {shown}. "
            "Map it to two classes (for example Yes/No) or pick another --target."
        )
    label = resolve_positive_label(values, target, positive_label)
    return (column == label).astype(int).rename(target), label


def check_split_size(y: pd.Series, test_size: float) -> None:
    """Refuse splits that would leave a class out of either side."""
    if not 0.0 < test_size < 1.0:
        raise DatasetError(f"test_size_ratio must be between 0 and 1 (exclusive), got {test_size}.")
    rows = len(y)
    n_test = math.ceil(test_size * rows)
    n_train = rows - n_test
    minority = int(y.value_counts().min())
    if n_test < 2 or n_train < 2 or minority < 2:
        raise DatasetError(
            f"Too few rows for a stratified split: {rows} rows, {minority} in the smaller class, "
            f"test_size_ratio {test_size} gives {n_train} train / {n_test} test rows. "
            "Each side needs both classes: add rows or change --test-size."
        )


def split_dataset(
    frame: pd.DataFrame,
    target: str,
    test_size: float,
    random_state: int = 42,
    positive_label: str = "",
) -> Split:
    """Validate and split stratified on the target. Features keep every non-target column."""
    from sklearn.model_selection import train_test_split

    y, label = encode_target(frame, target, positive_label)
    check_split_size(y, test_size)
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DatasetError(f"The dataset has no columns besides the target {target!r}; add feature columns.")
    x_train, x_test, y_train, y_test = train_test_split(
        features, y, test_size=test_size, random_state=random_state, stratify=y
    )
    return Split(
        x_train.reset_index(drop=True),
        y_train.reset_index(drop=True),
        x_test.reset_index(drop=True),
        y_test.reset_index(drop=True),
        label,
    )
