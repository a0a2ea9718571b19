"""Identifier detection on schemas other than Telco: by name word, unique text, or row numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnops.core.features import infer_feature_spec

ROWS = 200


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("customerID", [f"{i:04d}-ABCD" for i in range(ROWS)]),
        ("CustomerId", list(range(15_000_000, 15_000_000 + 3 * ROWS, 3))),  # Kaggle bank churn
        ("account_id", [f"A{i}" for i in range(ROWS)]),
        ("RowNumber", list(range(1, ROWS + 1))),
        ("Unnamed: 0", list(np.random.default_rng(0).permutation(ROWS))),  # pandas index written by to_csv
        ("email", [f"user{i}@example.com" for i in range(ROWS)]),
    ],
)
def test_identifiers_are_left_out_of_the_features(column, values):
    frame = pd.DataFrame({column: [str(value) for value in values], "tenure": [str(i % 30) for i in range(ROWS)]})
    spec = infer_feature_spec(frame)
    assert spec.id_columns == [column]
    assert spec.features == ["tenure"]


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("AmountPaid", [f"{10 + i * 0.37:.2f}" for i in range(ROWS)]),  # ends in "id", unique, a real number
        ("Android", ["yes", "no"] * (ROWS // 2)),
        ("balance_cents", [str(1000 * i + i % 7) for i in range(ROWS)]),  # unique integers, wide span
    ],
)
def test_features_that_only_look_like_identifiers_are_kept(column, values):
    spec = infer_feature_spec(pd.DataFrame({column: values}))
    assert spec.id_columns == [] and spec.features == [column]


def test_ids_beyond_word_split_names_are_recognised():
    import numpy as np
    import pandas as pd

    from churnops.core.features import infer_feature_spec

    rng = np.random.default_rng(0)
    rows = 200
    frame = pd.DataFrame({
        "CUSTNUM": [f"{i:05d}" for i in rng.permutation(rows)],  # all-caps joined, ends in NUM
        "ACCTNO": [str(i) for i in rng.choice(10**6, rows, replace=False)],
        "account": [str(10**8 + i) for i in rng.choice(9 * 10**8, rows, replace=False)],  # 9-digit unique keys
        "tenure": [str(i) for i in rng.integers(0, 72, rows)],
        "plan": rng.choice(["a", "b"], rows),
    })
    spec = infer_feature_spec(frame)
    assert spec.id_columns == ["CUSTNUM", "ACCTNO", "account"]
    assert "tenure" in spec.numeric
