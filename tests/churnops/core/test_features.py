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
