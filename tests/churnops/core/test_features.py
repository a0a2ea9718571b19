"""Column typing and the preprocessing carried inside the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnops.core.features import NumericCoercer, infer_feature_spec
from churnops.core.fitting import fit_model, typed_features

TELCO_CATEGORICALS = {
    "gender", "Partner", "Dependents", "PhoneService", "MultipleLines", "InternetService",
    "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
    "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod",
}


def test_telco_columns_are_typed_like_an_analyst_would(churn_frame):
    spec = infer_feature_spec(churn_frame.drop(columns=["Churn"]))
    assert spec.id_columns == ["customerID"]
    assert set(spec.numeric) == {"SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"}
    assert set(spec.categorical) == TELCO_CATEGORICALS
    assert spec.dropped == {}


def test_other_schemas_id_constant_and_free_text_columns_are_left_out():
    rows = 50
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(rows)],
            "region": ["north", "south"] * (rows // 2),
            "note": [f"free text {i}" for i in range(rows)],
            "country": ["PT"] * rows,
            "age": [str(20 + i % 40) for i in range(rows)],
        }
    )
    spec = infer_feature_spec(frame)
    assert spec.id_columns == ["account_id", "note"]
    assert spec.dropped == {"country": "constant"}
    assert spec.numeric == ["age"] and spec.categorical == ["region"]


def test_numeric_coercer_turns_text_blanks_into_missing():
    out = NumericCoercer().fit_transform(pd.DataFrame({"TotalCharges": ["29.85", " ", "n/a", "1889.5"]}))
    assert out[:, 0][0] == pytest.approx(29.85)
    assert np.isnan(out[1, 0]) and np.isnan(out[2, 0])


def test_fitted_model_scores_raw_rows_with_blanks_and_unseen_categories(churn_frame):
    x = churn_frame.drop(columns=["Churn"])
    y = (churn_frame["Churn"] == "Yes").astype(int)
    fitted = fit_model(x, y, "logistic_regression", {"C": 1.0})
    raw = x.head(3).copy()
    raw.loc[0, "TotalCharges"] = " "
    raw.loc[1, "PaymentMethod"] = "Crypto (never seen)"
    probabilities = fitted.pipeline.predict_proba(typed_features(raw, fitted.spec))[:, 1]
    assert probabilities.shape == (3,)
    assert np.all((probabilities > 0) & (probabilities < 1))


# Text a numeric column may hold: plain, padded, blank, not numbers, odd whitespace and digits.
ODD_NUMBERS = ["29.85", " 12 ", "", " ", "\t", "abc", "1e5", "+5", ".5", "5.", "1_000", "inf", "-inf", "nan",
               "1e400", "0x10", "\x1c12\x1c", "\xa012\xa0", "\u200312", "\u0661\u0662", "9007199254740993",
               "1.0000000000000002", "1e-400", None, "1,5", "\u22121", " -0 ", "12\n", "\r\n", "--5"]


@pytest.mark.parametrize("value", ODD_NUMBERS, ids=repr)
def test_one_served_value_parses_as_in_a_batch_file(value):
    """parse_numbers reads a few values (a served row) with Python's strip and a chunk with pandas':
    both must read every value alike, or `churnops serve` and `churnops predict` would disagree."""
    from churnops.core.features import SMALL_PARSE, parse_numbers

    alone = parse_numbers([value])
    in_a_chunk = parse_numbers([value] * (SMALL_PARSE + 1))
    assert np.array_equal(alone[0], in_a_chunk[0][:1], equal_nan=True) and alone[1][0] == in_a_chunk[1][0]


def test_python_and_pandas_strip_the_same_characters():
    """What lets parse_numbers strip a served row with str.strip: on every code point (as padding) it
    removes what pandas' str.strip removes from a batch chunk. ~3 s."""
    padded = [chr(code) + "1" + chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF]
    by_pandas = pd.Series(padded, dtype=object).astype("string").str.strip().tolist()
    differ = [hex(ord(value[0])) for value, stripped in zip(padded, by_pandas, strict=True) if stripped != value.strip()]
    assert differ == []
