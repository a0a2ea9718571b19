"""churnops.core.scoring: split_typed gives exactly what split_rejects + typed_features gave, parsing once."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

from churnops.core.features import FeatureSpec
from churnops.core.fitting import typed_features
from churnops.core.scoring import split_rejects, split_typed

SPEC = FeatureSpec(numeric=["tenure", "TotalCharges"], categorical=["Contract"], id_columns=["customerID"])


def messy_chunk(rows: int, seed: int) -> pd.DataFrame:
    """Raw text as batch_predict reads it (dtype=str, blank cells NaN): numbers, blanks, spaces, garbage."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(50, 30, rows).round(3).astype(str)
    pool = np.array([*numbers[:20], "", " ", " 12 ", "1e3", "-0", "inf", "n/a", "12,5", "nan", "0x1"], dtype=object)
    frame = pd.DataFrame({
        "customerID": [f"C{i}" for i in range(rows)],
        "tenure": rng.choice(pool, rows),
        "TotalCharges": np.where(rng.random(rows) < 0.7, numbers, rng.choice(pool, rows)),
        "Contract": rng.choice(np.array(["Month-to-month", "One year", "", "Two year"], dtype=object), rows),
    })
    frame.index = frame.index + 1000  # a later chunk
    return frame.replace({"": np.nan})


def test_split_typed_equals_split_rejects_then_typed_features():
    for seed in range(5):
        chunk = messy_chunk(2000, seed)
        good, rejected = split_rejects(chunk, SPEC, 1001)
        good2, rejected2, typed = split_typed(chunk, SPEC, 1001)
        assert 0 < len(rejected) < len(chunk)  # the chunk really has both kinds of rows
        assert_frame_equal(good2, good)
        assert_frame_equal(rejected2, rejected)
        assert_frame_equal(typed, typed_features(good, SPEC))


def test_a_chunk_of_only_rejected_rows_types_to_an_empty_frame():
    chunk = pd.DataFrame({"customerID": ["a"], "tenure": ["x"], "TotalCharges": ["1"], "Contract": ["One year"]})
    good, rejected, typed = split_typed(chunk, SPEC, 1)
    assert good.empty and len(rejected) == 1 and typed.empty and list(typed.columns) == SPEC.features


def test_the_category_check_counts_unseen_values_per_column_and_rows_once():
    from churnops.core.scoring import CategoryCheck, blank_columns, count_present

    check = CategoryCheck({"Contract": frozenset({"Month-to-month", "One year"}), "Partner": frozenset({"Yes", "No"})})
    first = pd.DataFrame({"Contract": ["Month-to-month", "month-to-month", None, "5"], "Partner": ["Yes", "maybe", "No", "x"]})
    assert check.add(first) == {"Contract": 2, "Partner": 2}
    assert check.add(pd.DataFrame({"Contract": ["One year"], "Partner": ["No"]})) == {}
    assert (check.counts, check.rows) == ({"Contract": 2, "Partner": 2}, 2)  # two rows with two each, counted once
    assert check.describe() == ("Contract: 2 value(s) never seen in training, e.g. 'month-to-month', '5'; "
                                "Partner: 2 value(s) never seen in training, e.g. 'maybe', 'x'")
    present: dict[str, int] = {}
    count_present(pd.DataFrame({"a": ["", " ", None], "b": ["1", "", None]}), ["a", "b"], present)
    assert blank_columns(present, ["a", "b"]) == ["a"]
def test_a_column_that_differs_only_in_case_is_named_with_its_rename():
    import pytest

    from churnops.core.scoring import check_columns
    from churnops.errors import DatasetError

    with pytest.raises(DatasetError) as error:
        check_columns(["customerID", "Tenure", "TotalCharges"], SPEC, "in.csv", "m v1")
    text = str(error.value)
    assert "missing column(s) ['tenure', 'Contract']" in text
    assert "Column names are case-sensitive: rename 'Tenure' -> 'tenure'." in text and text.endswith("its columns.")
