"""Decide what each column is and build the preprocessing that the logged model carries.

The fitted sklearn Pipeline contains all of it, so the model in MLflow scores raw rows as they
appear in the source CSV (text in numeric columns, blanks, unseen categories).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# A text column counts as numeric when this share of its non-blank values parse as numbers
# (Telco's TotalCharges: all numbers but 11 single spaces).
NUMERIC_SHARE = 0.98
# More distinct values than this in a text column: free text, not a category.
MAX_CATEGORIES = 100
# Last word of a column name that marks an identifier when (nearly) every row has its own value:
# customerID, CustomerId, account_id, RowNumber, phone_no. Words, not suffixes: "AmountPaid"
# and "Android" end in "id" but are no identifiers.
ID_WORDS = {"id", "uuid", "guid", "key", "number", "no", "nr"}
NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# An integer column unique on every row whose values span at most this many times the row
# count is a row number (pandas' "Unnamed: 0", a sequence), even after a random split.
ROW_NUMBER_SPAN = 2.0


@dataclass
class FeatureSpec:
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    id_columns: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def to_dict(self) -> dict:
        return asdict(self)


def _numeric_share(values: pd.Series) -> float:
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if present.empty:
        return 0.0
    return float(pd.to_numeric(present, errors="coerce").notna().mean())


# An all-caps joined name ending in an id word: CUSTNUM, ACCTNO, CUSTOMERID, MEMBER_NO is split already.
JOINED_ID = re.compile(r"^[A-Z0-9]{2,}(NUM|NO|NR|ID|KEY)$")
# Unique integers of one magnitude, every one far larger than the row count (at least 6 digits):
# account or phone numbers, not counts or amounts (a balance in cents starts near 0).
KEY_MIN = 100_000


def _id_name(name: str) -> bool:
    words = NAME_WORDS.findall(str(name))
    return (bool(words) and words[-1].lower() in ID_WORDS) or bool(JOINED_ID.match(str(name).strip()))


def _integer_keys(values: pd.Series) -> bool:
    """Integers of one magnitude, all far larger than the row count (account numbers, phone numbers)."""
    numbers = pd.to_numeric(values.dropna().astype(str).str.strip(), errors="coerce")
    if numbers.empty or numbers.isna().any() or (numbers % 1 != 0).any():
        return False
    smallest = numbers.min()
    return smallest >= max(KEY_MIN, 100 * len(values)) and numbers.max() < 10 * smallest


def _row_numbers(values: pd.Series) -> bool:
    numbers = pd.to_numeric(values.dropna().astype(str).str.strip(), errors="coerce")
    if numbers.isna().any() or (numbers % 1 != 0).any():
        return False
    return numbers.max() - numbers.min() + 1 <= ROW_NUMBER_SPAN * len(values)


def _looks_like_id(name: str, values: pd.Series) -> bool:
    distinct = values.nunique(dropna=True)
    rows = len(values)
    if rows == 0:
        return False
    if _id_name(name) and distinct >= 0.9 * rows:
        return True
    if rows < 20 or distinct != rows:
        return False
    # Unique on every row cannot generalise: text (an identifier in all but name) or a row number.
    if _numeric_share(values) < NUMERIC_SHARE:
        return True
    # Few rows make distinct integers (ages, counts) likely by chance: row numbers need more.
    return rows >= 50 and (_row_numbers(values) or _integer_keys(values))


def infer_feature_spec(frame: pd.DataFrame) -> FeatureSpec:
    """Sort the columns into numeric, categorical, identifiers and dropped (with the reason)."""
    spec = FeatureSpec()
    for name in frame.columns:
        values = frame[name]
        if _looks_like_id(name, values):
            spec.id_columns.append(name)
        elif values.nunique(dropna=True) <= 1:
            spec.dropped[name] = "constant"
        elif _numeric_share(values) >= NUMERIC_SHARE:
            spec.numeric.append(name)
        elif values.nunique(dropna=True) <= MAX_CATEGORIES:
            spec.categorical.append(name)
        else:
            spec.dropped[name] = f"more than {MAX_CATEGORIES} distinct text values"
    return spec


class NumericCoercer(BaseEstimator, TransformerMixin):
    """Parse columns as floats; anything that is not a number (" ", "n/a") becomes NaN.

    The imputer after it fills those NaNs, so a blank TotalCharges scores instead of failing.
    """

    def fit(self, X, y=None):  # noqa: N803 (sklearn's argument names)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):  # noqa: N803
        frame = pd.DataFrame(X)
        return frame.apply(lambda column: pd.to_numeric(column, errors="coerce")).to_numpy(dtype=np.float64)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features if input_features is not None else [], dtype=object)


class CategoryText(BaseEstimator, TransformerMixin):
    """Cast categories to plain text with a "missing" marker, whatever dtype the input had."""

    def fit(self, X, y=None):  # noqa: N803
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):  # noqa: N803
        frame = pd.DataFrame(X).astype(object)
        return frame.where(frame.notna(), "missing").astype(str).to_numpy(dtype=object)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features if input_features is not None else [], dtype=object)


def known_categories(pipeline, spec: FeatureSpec) -> dict[str, frozenset[str]]:
    """The values each categorical feature had in training, as the fitted one-hot encoder saw them
    (CategoryText's text, "missing" for blank): what churnops.core.scoring calls seen. {} for a
    pipeline not built by build_pipeline (nothing is then reported unseen)."""
    try:
        encoder = pipeline.named_steps["preprocess"].named_transformers_["categorical"].named_steps["onehot"]
    except (AttributeError, KeyError):
        return {}
    return {column: frozenset(str(value) for value in values)
            for column, values in zip(spec.categorical, encoder.categories_, strict=True)}


def build_preprocessor(spec: FeatureSpec) -> ColumnTransformer:
    """Coerce + impute + scale numbers, one-hot categories; other columns are dropped."""
    numeric = Pipeline(
        [
            ("coerce", NumericCoercer()),
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            ("text", CategoryText()),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    return ColumnTransformer(
        [("numeric", numeric, spec.numeric), ("categorical", categorical, spec.categorical)],
        remainder="drop",
    )
