"""The compiled form of a churn model: its fitted pipeline as one ONNX graph, run by onnxruntime.

The graph takes the model's typed features (what churnops.core.scoring hands the scikit-learn
pipeline: floats with NaN for a blank number, text or None for a category), one input per
column, and returns the churn probability in double precision. Built and checked against the
pipeline by churnops.core.conversion at training time; this module only runs it.

This module ships inside the logged model (churnops.registry.models.MODEL_CODE): numpy, pandas and
onnxruntime only.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from churnops.core.features import MISSING_CATEGORY

# The graph's output: the probability of the positive class, shape [rows, 2] (column 1 is churn).
PROBABILITY_OUTPUT = "probabilities"
# Opsets the graph is written for: ai.onnx.ml 5 has TreeEnsemble, whose splits, leaf weights and
# output are double (opset 3's TreeEnsembleClassifier answers in float32).
MAIN_OPSET = 21
ML_OPSET = 5
# What scores a version: its compiled form, or its scikit-learn pipeline (no compiled form logged).
FORM_COMPILED = "onnx"
FORM_SKLEARN = "sklearn"


def category_tensor(values) -> np.ndarray:
    """A category column as the graph's string input: CategoryText's rule (missing -> "missing",
    everything else its text), vectorised; an ONNX string tensor has no None."""
    values = np.asarray(values, dtype=object)
    text = np.where(pd.isna(values), MISSING_CATEGORY, values)
    if pd.api.types.infer_dtype(text, skipna=False) != "string":  # numbers or flags in a category column
        text = text.astype(str).astype(object)
    return text.reshape(-1, 1)


def number_tensor(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


class CompiledModel:
    """An onnxruntime session over the compiled graph; created at the first call (cheap to load)."""

    def __init__(self, graph: bytes, numeric: list[str], categorical: list[str], threads: int = 1):
        self.graph = graph
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.threads = max(1, int(threads))
        self._session = None

    @classmethod
    def load(cls, path: str, numeric: list[str], categorical: list[str], threads: int = 1) -> CompiledModel:
        with open(path, "rb") as stream:
            return cls(stream.read(), numeric, categorical, threads)

    def with_threads(self, threads: int) -> CompiledModel:
        """The same graph on `threads` cores (batch scoring); one thread answers one row fastest."""
        return CompiledModel(self.graph, self.numeric, self.categorical, threads)

    @property
    def session(self):
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            # Idle worker threads sleep instead of spinning: a replica or a step shares its cores.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = onnxruntime.InferenceSession(self.graph, options, providers=["CPUExecutionProvider"])
        return self._session

    def feed(self, columns: Mapping[str, object]) -> dict[str, np.ndarray]:
        """Typed columns (name -> 1-D values) as the graph's inputs."""
        inputs = {name: number_tensor(columns[name]) for name in self.numeric}
        inputs.update((name, category_tensor(columns[name])) for name in self.categorical)
        return inputs

    def churn_probability(self, columns: Mapping[str, object]) -> np.ndarray:
        """P(churn) per row, float64: `columns` maps every feature to its typed values (a DataFrame works)."""
        if isinstance(columns, pd.DataFrame):
            columns = {name: columns[name].to_numpy() for name in self.numeric + self.categorical}
        (probabilities,) = self.session.run([PROBABILITY_OUTPUT], self.feed(columns))
        return np.ascontiguousarray(probabilities[:, 1], dtype=np.float64)
