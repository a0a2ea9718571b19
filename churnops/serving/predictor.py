"""The KServe predictor: raw rows in (v1 `instances` or Open Inference Protocol v2 tensors), four columns out.

Rows are checked with churnops.core.scoring, the rules and messages of batch inference: a missing
column or a value that is not a number is a 400 (kserve.errors.InvalidInput) naming the column,
never a 500. Every answer names the model version that produced it.

Nothing stands between the decoded request and the model that the model does not need: the rows
become columns of text (rows_from_instances, rows_from_v2), check_rows checks and types them with
batch scoring's own parse (churnops.core.features.parse_numbers) and score hands them to the
version's scorer (its compiled form: onnxruntime), no DataFrame built (benchmarks/serving.py prints
where one row's time goes).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from kserve import Model
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from prometheus_client import Counter, Gauge

from churnops import defaults
from churnops.core.features import parse_numbers
from churnops.core.scoring import OUTPUT_COLUMNS, CategoryCheck, check_columns
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


# A request's rows as columns: name -> one value per row, as text or None (what a CSV cell holds).
Columns = dict[str, list]


def rows_from_instances(payload: Any, max_rows: int = defaults.SERVE_MAX_ROWS) -> Columns:
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
    columns = dict.fromkeys(column for row in instances for column in row)
    return {column: [_text(row.get(column)) for row in instances] for column in columns}


def rows_from_v2(request: InferRequest, max_rows: int = defaults.SERVE_MAX_ROWS) -> Columns:
    """One input tensor per column (shape [rows]), as the Open Inference Protocol's columnar form."""
    if not request.inputs:
        raise InvalidInput("The v2 request has no inputs: send one input tensor per column, shape [rows].")
    lengths = {infer_input.name: len(infer_input.data) for infer_input in request.inputs}
    if len(set(lengths.values())) != 1:
        raise InvalidInput(f"Every input tensor needs one value per row; their lengths differ: {lengths}.")
    check_row_count(max(lengths.values()), max_rows)
    return {infer_input.name: [_text(value.decode() if isinstance(value, bytes) else value) for value in infer_input.data]
            for infer_input in request.inputs}


def check_rows(rows: Columns, served: Served) -> dict[str, Any]:
    """Batch inference's checks: required columns, numbers in numeric columns (blank is missing, not bad).

    Returns the typed columns the model scores (churnops.core.features.parse_numbers, the parse of
    batch scoring, for numbers; the text for categories): no DataFrame is built for a request.
    """
    label = f"{served.resolved.model_name} v{served.resolved.model_version}"
    try:
        check_columns(list(rows), served.spec, "of this request", label,
                      fix="Send them in every row of the request (null for a missing value).")
    except DatasetError as exc:
        raise InvalidInput(str(exc)) from None
    typed: dict[str, Any] = {}
    problems: dict[int, list[str]] = {}
    for column in served.spec.numeric:
        typed[column], bad = parse_numbers(rows[column])
        for position in np.flatnonzero(bad).tolist():
            problems.setdefault(position, []).append(f"{column}={rows[column][position]!r} is not a number")
    if problems:
        shown = "; ".join(f"row {row + 1}: {'; '.join(items)}" for row, items in sorted(problems.items()))
        count = len(rows[served.spec.numeric[0]])
        raise InvalidInput(f"{len(problems)} of {count} rows have values that are not numbers: {shown[:2000]}. "
                           "Send numbers (or blank/null for missing) in these columns.")
    typed.update((column, rows[column]) for column in served.spec.categorical)
    return typed


def score(rows: Columns, served: Served) -> tuple[list[float], list[int], dict[str, int]]:
    """(churn_probability rounded as batch files are, churn_predicted) per row, by the version's own form,
    and the unseen category values per column (batch inference's CategoryCheck, on the same text)."""
    typed = check_rows(rows, served)
    unseen = CategoryCheck(served.categories).add({column: rows[column] for column in served.spec.categorical})
    for column, count in unseen.items():
        UNSEEN.labels(served.resolved.model_name, column).inc(count)
    probability = served.scorer.churn_probability(typed)
    decided = probability >= served.scorer.decision_threshold
    return np.round(probability, defaults.PROBABILITY_DECIMALS).tolist(), decided.astype(np.int64).tolist(), unseen


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
        name, version = served.resolved.model_name, served.resolved.model_version
        if isinstance(payload, InferRequest):
            probability, predicted, unseen = score(rows_from_v2(payload, self.max_rows), served)
            values = {"churn_probability": probability, "churn_predicted": predicted,
                      "model_name": [name] * len(predicted), "model_version": [version] * len(predicted)}
            outputs = [InferOutput(name=column, shape=[len(predicted)], datatype=V2_TYPES[column], data=values[column])
                       for column in OUTPUT_COLUMNS]
            return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=outputs,
                                 model_version=version,
                                 parameters={UNSEEN_FIELD: json.dumps(unseen, sort_keys=True)} if unseen else None)
        probability, predicted, unseen = score(rows_from_instances(payload, self.max_rows), served)
        # The version this server resolved and loaded answers: the pyfunc's own label is the newest
        # version of its run, which differs when one logged model is registered twice.
        answer = {"predictions": [{"churn_probability": p, "churn_predicted": d, "model_name": name,
                                   "model_version": version} for p, d in zip(probability, predicted, strict=True)],
                  "model_version": version}
        return {**answer, UNSEEN_FIELD: unseen} if unseen else answer
