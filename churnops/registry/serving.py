"""The logged churn model as an MLflow pyfunc: raw rows in, churn probabilities and decisions out.

`mlflow.pyfunc.load_model("models:/NAME@champion").predict(raw_df)` (a notebook, `mlflow models
serve`, KServe's MLflow runtime) returns one row per input row, in order, with
churn_probability, churn_predicted (the decision threshold the model was logged with applied),
model_name and model_version.

The probabilities come from the model's compiled form (the ONNX graph logged as the artifact
COMPILED_ARTIFACT, churnops.core.compiled) when the version has one, else from the scikit-learn
pipeline: whatever loads the version (this pyfunc, `churnops predict`, `churnops serve`) scores
with the same form, so their answers are equal.

This module ships inside the model (code_paths): it may import only what the model's own pickle
needs (churnops.core.features, churnops.core.compiled, numpy, pandas, scikit-learn, onnxruntime)
and MLflow, never the rest of churnops.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from churnops.core.compiled import FORM_COMPILED, FORM_SKLEARN, CompiledModel
from churnops.core.features import parse_numbers

OUTPUT_COLUMNS = ("churn_probability", "churn_predicted", "model_name", "model_version")
# Bad values named in an error, at most.
SHOWN_PROBLEMS = 5
# The pyfunc artifact holding the compiled form (absent: the version scores with scikit-learn).
COMPILED_ARTIFACT = "compiled_model"


class ChurnModel(mlflow.pyfunc.PythonModel):
    """The fitted sklearn pipeline with its feature spec, decision threshold and registered name,
    and (after load_context) its compiled form when the version was logged with one."""

    def __init__(self, pipeline: Any, spec: dict[str, Any], decision_threshold: float, model_name: str,
                 run_id: str) -> None:
        self.pipeline = pipeline
        self.spec = dict(spec)
        self.decision_threshold = float(decision_threshold)
        self.model_name = model_name
        self.run_id = run_id
        self.model_version = ""
        self.compiled: CompiledModel | None = None

    def load_context(self, context) -> None:
        # MLflow hands load_context only the artifacts and model_config, and the MLmodel file
        # was written before registration: the version is looked up by this model's run.
        self.model_version = registered_version(self.model_name, self.run_id)
        path = (context.artifacts or {}).get(COMPILED_ARTIFACT) if context is not None else None
        self.compiled = CompiledModel.load(path, self.numeric, self.categorical) if path else None

    @property
    def form(self) -> str:
        """What scores: FORM_COMPILED (onnxruntime) or FORM_SKLEARN (the pipeline; versions without a compiled form)."""
        return FORM_COMPILED if getattr(self, "compiled", None) is not None else FORM_SKLEARN

    def use_cores(self, cores: int) -> ChurnModel:
        """Score batches on `cores` cores (a logged model answers one row on one)."""
        if getattr(self, "compiled", None) is not None:
            self.compiled = self.compiled.with_threads(cores)
        classifier = self.pipeline.steps[-1][1]
        if "n_jobs" in classifier.get_params():
            classifier.set_params(n_jobs=int(cores))
        return self

    def churn_probability(self, typed: Any) -> np.ndarray:
        """P(churn) per row of typed features (self.typed's output, or a mapping column -> typed values)."""
        rows = len(typed) if isinstance(typed, pd.DataFrame) else len(next(iter(typed.values()), ()))
        if not rows:
            return np.empty(0)
        if getattr(self, "compiled", None) is not None:
            return self.compiled.churn_probability(typed)
        frame = typed if isinstance(typed, pd.DataFrame) else pd.DataFrame(dict(typed))[self.numeric + self.categorical]
        return self.pipeline.predict_proba(frame)[:, 1]

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
            parsed, bad = parse_numbers(values)
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
        probability = self.churn_probability(self.typed(frame))
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
