"""The logged churn model as an MLflow pyfunc: raw rows in, churn probabilities and decisions out.

`mlflow.pyfunc.load_model("models:/NAME@champion").predict(raw_df)` (a notebook, `mlflow models
serve`, KServe's MLflow runtime) returns one row per input row, in order, with
churn_probability, churn_predicted (the decision threshold the model was logged with applied),
model_name and model_version.

This module ships inside the model (code_paths): it may import only what the model's own pickle
needs (churnops.core.features, numpy, pandas, scikit-learn) and MLflow, never the rest of churnops.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

OUTPUT_COLUMNS = ("churn_probability", "churn_predicted", "model_name", "model_version")
# Bad values named in an error, at most.
SHOWN_PROBLEMS = 5


class ChurnModel(mlflow.pyfunc.PythonModel):
    """The fitted sklearn pipeline with its feature spec, decision threshold and registered name."""

    def __init__(self, pipeline: Any, spec: dict[str, Any], decision_threshold: float, model_name: str,
                 run_id: str) -> None:
        self.pipeline = pipeline
        self.spec = dict(spec)
        self.decision_threshold = float(decision_threshold)
        self.model_name = model_name
        self.run_id = run_id
        self.model_version = ""

    def load_context(self, context) -> None:
        # MLflow hands load_context only the artifacts and model_config, and the MLmodel file
        # was written before registration: the version is looked up by this model's run.
        self.model_version = registered_version(self.model_name, self.run_id)

    @property
    def numeric(self) -> list[str]:
        return list(self.spec.get("numeric", []))

    @property
    def categorical(self) -> list[str]:
        return list(self.spec.get("categorical", []))

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Raw rows -> the pipeline's input: floats for numbers (blank = missing), text for categories."""
        missing = [column for column in self.numeric + self.categorical if column not in frame.columns]
        if missing:
            raise MlflowException(
                f"Input is missing column(s) {missing} that {self.model_name or 'the model'} needs; "
                "send every feature column (the id column is optional).",
                error_code=INVALID_PARAMETER_VALUE,
            )
        typed = pd.DataFrame(index=frame.index)
        problems: list[str] = []
        for column in self.numeric:
            values = frame[column]
            text = values.astype("string").str.strip()
            blank = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
            parsed = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
            bad = ~blank & ~np.isfinite(parsed.to_numpy(dtype="float64", na_value=np.nan))
            problems.extend(f"row {position}: {column}={values.iloc[position]!r}" for position in np.flatnonzero(bad))
            typed[column] = parsed
        if problems:
            raise MlflowException(
                f"{len(problems)} value(s) in numeric columns are not numbers: "
                f"{'; '.join(problems[:SHOWN_PROBLEMS])}. Send numbers, or blank/null for a missing value.",
                error_code=INVALID_PARAMETER_VALUE,
            )
        for column in self.categorical:
            values = frame[column].astype(object)
            typed[column] = values.where(values.notna(), None)
        return typed[self.numeric + self.categorical]

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        typed = self.typed(frame)
        probability = self.pipeline.predict_proba(typed)[:, 1] if len(typed) else np.empty(0)
        return pd.DataFrame({
            "churn_probability": probability.astype("float64"),
            "churn_predicted": (probability >= self.decision_threshold).astype("int64"),
            "model_name": self.model_name,
            "model_version": self.model_version,
        }, columns=list(OUTPUT_COLUMNS))


def registered_version(model_name: str, run_id: str) -> str:
    """The registry version of this run's model, or "" where no registry is configured or reachable."""
    if not (model_name and run_id and mlflow.is_tracking_uri_set()):
        return ""  # an unset URI would make MLflow create a store in the working directory
    try:
        found = mlflow.MlflowClient().search_model_versions(f"run_id = '{run_id}'")
    except Exception:  # noqa: BLE001 (serving must not fail for want of the version label)
        return ""
    versions = [int(item.version) for item in found if item.name == model_name]
    return str(max(versions)) if versions else ""
