"""The KServe predictor: raw rows in (v1 `instances` or Open Inference Protocol v2 tensors), four columns out.

Rows are checked with churnops.core.scoring, the rules and messages of batch inference: a missing
column or a value that is not a number is a 400 (kserve.errors.InvalidInput) naming the column,
never a 500. Every answer names the model version that produced it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from kserve import Model
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from prometheus_client import Counter, Gauge

from churnops import defaults
from churnops.core.scoring import OUTPUT_COLUMNS, CategoryCheck, check_columns, split_rejects
from churnops.errors import DatasetError
from churnops.serving.exposure import RequestTooLarge, too_large_message
from churnops.serving.follower import Follower, Served

# Reported on kserve's /metrics (the default prometheus registry it exposes).
SERVED_VERSION = Gauge("churnops_served_model_version", "The registry version that answers requests", ["model_name"])
LOAD_FAILURES = Counter("churnops_model_load_failures_total",
                        "Versions the alias pointed to that failed to load or to pass the smoke prediction; "
                        "the previous version kept serving", ["model_name"])
SWAPS = Counter("churnops_model_swaps_total", "Times a new version replaced the served one", ["model_name"])
UNSEEN = Counter("churnops_unseen_category_values_total",
                 "Category values in requests that the served version never saw in training (scored as if the "
                 "column were empty; named in the answer's unseen_categories)", ["model_name", "column"])

# In an answer whose rows hold category values the version never saw: {column: how many} (v1: a field
# beside "predictions"; v2: a response parameter holding that JSON). Those rows are scored all the same.
UNSEEN_FIELD = "unseen_categories"
V2_TYPES = {"churn_probability": "FP64", "churn_predicted": "INT64", "model_name": "BYTES", "model_version": "BYTES"}


def register_metrics(model_name: str) -> None:
    """Every counter at 0 from the start: an alert on `churnops_model_load_failures_total` can be written
    before the first failure (a labelled prometheus metric has no sample until its label is used)."""
    LOAD_FAILURES.labels(model_name)
    SWAPS.labels(model_name)


def record_event(event: str, resolved, _detail: str) -> None:
    if event in ("serving", "swapped"):
        SERVED_VERSION.labels(resolved.model_name).set(float(resolved.model_version)
                                                       if resolved.model_version.isdigit() else math.nan)
    if event == "swapped":
        SWAPS.labels(resolved.model_name).inc()
    if event == "load_failed":
        LOAD_FAILURES.labels(resolved.model_name).inc()


def _text(value: Any) -> str | None:
    """A JSON value as the text a CSV cell would hold (batch inference reads every cell as text, an empty
    cell as missing)."""
    if value is None or value == "" or isinstance(value, bool):
        return None if value is None or value == "" else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value if isinstance(value, str) else str(value)


def check_row_count(count: int, max_rows: int) -> None:
    if count > max_rows:
        raise RequestTooLarge(too_large_message(f"{count} rows", max_rows, "--max-rows"))


def rows_from_instances(payload: Any, max_rows: int = defaults.SERVE_MAX_ROWS) -> pd.DataFrame:
    if isinstance(payload, (bytes, str)):  # kserve decodes JSON only when the content type says JSON
        raise InvalidInput('Send the rows as JSON with the header "Content-Type: application/json".')
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidInput('Send {"instances": [{"column": value, ...}, ...]}: one object per customer row.')
    instances = payload["instances"]
    if not isinstance(instances, list) or not instances:
        raise InvalidInput('"instances" must be a non-empty list of row objects ({"column": value, ...}).')
    check_row_count(len(instances), max_rows)
    bad = [index + 1 for index, row in enumerate(instances) if not isinstance(row, dict)]
    if bad:
        raise InvalidInput(f"instance(s) {bad[:10]} are not objects: each instance is one row, {{\"column\": value, ...}}.")
    columns = list(dict.fromkeys(column for row in instances for column in row))
    return pd.DataFrame([[_text(row.get(column)) for column in columns] for row in instances],
                        columns=columns, dtype=object)


def rows_from_v2(request: InferRequest, max_rows: int = defaults.SERVE_MAX_ROWS) -> pd.DataFrame:
    """One input tensor per column (shape [rows]), as the Open Inference Protocol's columnar form."""
    if not request.inputs:
        raise InvalidInput("The v2 request has no inputs: send one input tensor per column, shape [rows].")
    lengths = {infer_input.name: len(infer_input.data) for infer_input in request.inputs}
    if len(set(lengths.values())) != 1:
        raise InvalidInput(f"Every input tensor needs one value per row; their lengths differ: {lengths}.")
    check_row_count(max(lengths.values()), max_rows)
    return pd.DataFrame({infer_input.name: [_text(value.decode() if isinstance(value, bytes) else value)
                                            for value in infer_input.data] for infer_input in request.inputs},
                        dtype=object)


def check_rows(rows: pd.DataFrame, served: Served) -> None:
    """Batch inference's checks: required columns, numbers in numeric columns (blank is missing, not bad)."""
    label = f"{served.resolved.model_name} v{served.resolved.model_version}"
    try:
        check_columns(list(rows.columns), served.spec, "of this request", label,
                      fix="Send them in every row of the request (null for a missing value).")
    except DatasetError as exc:
        raise InvalidInput(str(exc)) from None
    frame = rows.copy()
    frame.index = pd.RangeIndex(len(frame))
    spec = type(served.spec)(served.spec.numeric, served.spec.categorical, [], served.spec.dropped)
    _, rejected = split_rejects(frame, spec, first_row=1)
    if len(rejected):
        shown = "; ".join(f"row {row}: {problems}" for row, problems in zip(rejected["row"], rejected["problems"], strict=True))
        raise InvalidInput(f"{len(rejected)} of {len(frame)} rows have values that are not numbers: {shown[:2000]}. "
                           "Send numbers (or blank/null for missing) in these columns.")


def score(rows: pd.DataFrame, served: Served) -> tuple[pd.DataFrame, dict[str, int]]:
    """The four output columns, and the unseen category values per column (batch inference's CategoryCheck)."""
    check_rows(rows, served)
    unseen = CategoryCheck(served.categories).add(rows)
    for column, count in unseen.items():
        UNSEEN.labels(served.resolved.model_name, column).inc(count)
    scored = served.model.predict(rows[served.spec.features])[list(OUTPUT_COLUMNS)]
    # The version this server resolved and loaded answers: the pyfunc's own label is the newest
    # version of its run, which differs when one logged model is registered twice.
    return scored.assign(churn_probability=scored["churn_probability"].round(defaults.PROBABILITY_DECIMALS),
                         model_name=served.resolved.model_name, model_version=served.resolved.model_version), unseen


class ChurnPredictor(Model):
    """One KServe model named after the registered model; the version behind it follows the alias."""

    def __init__(self, name: str, follower: Follower, max_rows: int = defaults.SERVE_MAX_ROWS):
        super().__init__(name)
        self.follower = follower
        self.max_rows = max_rows
        self.ready = follower.served is not None

    def load(self) -> bool:
        self.ready = self.follower.served is not None
        return self.ready

    def predict(self, payload, headers=None):
        served = self.follower.served  # read once: the whole request uses this version
        if isinstance(payload, InferRequest):
            scored, unseen = score(rows_from_v2(payload, self.max_rows), served)
            outputs = []
            for column in OUTPUT_COLUMNS:
                values = scored[column].tolist()
                outputs.append(InferOutput(name=column, shape=[len(values)], datatype=V2_TYPES[column],
                                           data=[str(value) for value in values] if V2_TYPES[column] == "BYTES" else values))
            return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=outputs,
                                 model_version=served.resolved.model_version,
                                 parameters={UNSEEN_FIELD: json.dumps(unseen, sort_keys=True)} if unseen else None)
        scored, unseen = score(rows_from_instances(payload, self.max_rows), served)
        answer = {"predictions": scored.to_dict(orient="records"), "model_version": served.resolved.model_version}
        return {**answer, UNSEEN_FIELD: unseen} if unseen else answer
