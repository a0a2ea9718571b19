"""Batch inference: resolve a model URI to a concrete version, then score a CSV in chunks.

Every output row names the model version that produced it. Input problems never become silent
NaNs: a missing required column stops the job before anything is scored; a value that is not a
number in a numeric column sends that row to a rejection file (with its row number and the
offending value), and the job fails when more than `max_rejected_fraction` of the rows are bad.

Blank numeric values (empty or whitespace only, e.g. Telco's TotalCharges for customers with
tenure 0) are *missing*, not garbage: the model imputes them exactly as it did in training.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from churnops import storage, training
from churnops.data import local_path
from churnops.errors import DatasetError, RegistryError
from churnops.features import FeatureSpec

DEFAULT_CHUNK_ROWS = 50_000
DEFAULT_MAX_REJECTED_FRACTION = 0.01
OUTPUT_COLUMNS = ("churn_probability", "churn_predicted", "model_name", "model_version")
MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))$")
RUNS_URI = re.compile(r"^runs:/(?P<run_id>[0-9a-f]+)(?:/.*)?$")


@dataclass(frozen=True)
class ResolvedModel:
    requested_uri: str
    model_uri: str  # concrete: models:/NAME/N, or the runs:/ URI of an unregistered model
    model_name: str
    model_version: str
    run_id: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def resolve(model_uri: str, client: mlflow.MlflowClient) -> ResolvedModel:
    """models:/NAME@ALIAS, models:/NAME/N, models:/NAME/latest or runs:/RUN_ID/PATH -> a version."""
    if match := MODELS_URI.match(model_uri):
        name, alias, version = match.group("name", "alias", "version")
        try:
            if alias:
                found = client.get_model_version_by_alias(name, alias)
            elif version == "latest":
                versions = client.search_model_versions(f"name = '{name}'")
                if not versions:
                    raise MlflowException(f"{name} has no versions")
                found = max(versions, key=lambda item: int(item.version))
            else:
                found = client.get_model_version(name, version)
        except MlflowException as exc:
            raise RegistryError(
                f"Cannot resolve {model_uri}: {exc.message if hasattr(exc, 'message') else exc}. "
                f"List what exists with `churnops models list --model-name {name}`, "
                "or train and promote a version first (`churnops train`)."
            ) from None
        return ResolvedModel(model_uri, f"models:/{name}/{found.version}", name, str(found.version), found.run_id)
    if match := RUNS_URI.match(model_uri):
        run_id = match.group("run_id")
        registered = client.search_model_versions(f"run_id = '{run_id}'")
        if registered:
            found = max(registered, key=lambda item: int(item.version))
            return ResolvedModel(model_uri, f"models:/{found.name}/{found.version}", found.name,
                                 str(found.version), run_id)
        try:
            run = client.get_run(run_id)
        except MlflowException:
            raise RegistryError(f"Cannot resolve {model_uri}: no run {run_id} in this tracking store.") from None
        # Not registered: still name what produced the rows.
        return ResolvedModel(model_uri, model_uri, run.data.tags.get("churnops.model_name", ""), f"run:{run_id}", run_id)
    raise RegistryError(
        f"Unsupported model URI {model_uri!r}. Use models:/NAME@ALIAS (e.g. models:/churn-classifier@champion), "
        "models:/NAME/VERSION or runs:/RUN_ID/model."
    )


def feature_spec(model_uri: str) -> FeatureSpec:
    info = mlflow.models.get_model_info(model_uri)
    stored = (info.metadata or {}).get("feature_spec")
    if not stored:
        raise RegistryError(f"Model {model_uri} has no feature_spec metadata; it was not logged by churnops.")
    return FeatureSpec(**stored)


def decision_threshold(client: mlflow.MlflowClient, run_id: str) -> float:
    """The threshold the model was evaluated (and promoted) with; 0.5 when it was not recorded."""
    return float(client.get_run(run_id).data.params.get("decision_threshold", 0.5))


def input_columns(input_uri: str) -> list[str]:
    path = local_path(input_uri)
    if path is not None and not os.path.exists(path):
        raise DatasetError(f"Input not found: {input_uri}. Pass an existing CSV with --input.")
    try:
        with storage.open_input(input_uri, "--input") as stream:  # s3:// (MinIO), gs://, http(s):// too
            return list(pd.read_csv(stream, nrows=0, dtype=str).columns)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"Input {input_uri} is empty. Pass a CSV with a header row.") from None


def check_columns(columns: list[str], spec: FeatureSpec, input_uri: str, model: str) -> None:
    missing = [column for column in spec.features if column not in columns]
    if missing:
        raise DatasetError(
            f"Input {input_uri} is missing column(s) {missing} that {model} needs "
            f"(it scores {spec.features}). Add them to the file, or score it with a model trained on its columns."
        )


def split_rejects(chunk: pd.DataFrame, spec: FeatureSpec, first_row: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(good rows, rejected rows with `row`, `problems`). Blank numbers are missing, not rejected."""
    problems = pd.Series("", index=chunk.index, dtype=object)
    for column in spec.numeric:
        text = chunk[column].astype("string").str.strip()
        blank = (text.isna() | (text == "")).fillna(True).to_numpy(dtype=bool)
        parsed = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = ~blank & ~np.isfinite(parsed.to_numpy(dtype="float64", na_value=np.nan))
        if bad.any():
            problems[bad] += column + "=" + chunk.loc[bad, column].map(repr) + " is not a number; "
    rejected = problems != ""
    rows = chunk.loc[rejected, spec.id_columns].copy() if spec.id_columns else pd.DataFrame(index=chunk.index[rejected])
    rows.insert(0, "row", chunk.index[rejected] - chunk.index[0] + first_row)
    rows["problems"] = problems[rejected].str.rstrip("; ")
    return chunk.loc[~rejected], rows


def score_chunks(
    model, spec: FeatureSpec, input_uri: str, chunk_rows: int, id_columns: list[str]
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, np.ndarray]]:
    """Yield (good rows, rejected rows, churn probabilities of the good rows) per chunk."""
    usecols = list(dict.fromkeys(id_columns + spec.features))
    with storage.open_input(input_uri, "--input") as stream:
        reader = pd.read_csv(stream, dtype=str, keep_default_na=False, na_values=[""],
                             usecols=usecols, chunksize=chunk_rows)
        first_row = 1
        for chunk in reader:
            good, rejected = split_rejects(chunk, spec, first_row)
            first_row += len(chunk)
            probability = model.predict_proba(training.typed_features(good, spec))[:, 1] if len(good) else np.empty(0)
            yield good, rejected, probability


def predict_file(
    resolved: ResolvedModel,
    input_uri: str,
    output_path: str,
    rejections_path: str,
    *,
    tracking_uri: str,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    max_rejected_fraction: float = DEFAULT_MAX_REJECTED_FRACTION,
) -> dict:
    """Score `input_uri` with the resolved model into `output_path` (written whole or not at all)."""
    if chunk_rows < 1:
        raise DatasetError(f"chunk_rows must be >= 1, got {chunk_rows}.")
    started = time.monotonic()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    spec = feature_spec(resolved.model_uri)
    label = f"{resolved.model_name} v{resolved.model_version}"
    columns = input_columns(input_uri)
    check_columns(columns, spec, input_uri, label)
    id_columns = [column for column in spec.id_columns if column in columns]
    spec = FeatureSpec(spec.numeric, spec.categorical, id_columns, spec.dropped)
    model = mlflow.sklearn.load_model(resolved.model_uri)
    threshold = decision_threshold(client, resolved.run_id)
    info = mlflow.models.get_model_info(resolved.model_uri)
    partial = Path(f"{output_path}.partial")
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    Path(rejections_path).parent.mkdir(parents=True, exist_ok=True)
    scored = rejected = 0
    bad_columns: dict[str, int] = {}
    try:
        with open(partial, "w", newline="") as out, open(rejections_path, "w", newline="") as rejects:
            for index, (good, bad, probability) in enumerate(score_chunks(model, spec, input_uri, chunk_rows, id_columns)):
                frame = good[id_columns].copy()
                frame["churn_probability"] = probability.round(6)
                frame["churn_predicted"] = (probability >= threshold).astype(int)
                frame["model_name"] = resolved.model_name
                frame["model_version"] = resolved.model_version
                frame.to_csv(out, index=False, header=index == 0)
                bad.to_csv(rejects, index=False, header=index == 0)
                scored += len(frame)
                rejected += len(bad)
                for problem in bad["problems"]:
                    for column in re.findall(r"(?:^|; )([^=;]+)=", problem):
                        bad_columns[column] = bad_columns.get(column, 0) + 1
        total = scored + rejected
        if total and rejected / total > max_rejected_fraction:
            shown = ", ".join(f"{column} ({count} rows)" for column, count in sorted(bad_columns.items()))
            raise DatasetError(
                f"{rejected} of {total} input rows have values that are not numbers in numeric columns: {shown}. "
                f"That is more than max_rejected_fraction={max_rejected_fraction}, so no predictions were written. "
                f"The rows are listed in {rejections_path}; fix the source (blank cells are fine: they count as missing) "
                "or raise --max-rejected-fraction."
            )
        os.replace(partial, output_path)
    finally:
        partial.unlink(missing_ok=True)
    seconds = time.monotonic() - started
    return {
        **resolved.to_dict(),
        "input": input_uri,
        "rows": scored,
        "rejected": rejected,
        "rejected_columns": bad_columns,
        "decision_threshold": threshold,
        "positive_label": (info.metadata or {}).get("positive_label", ""),
        "id_columns": id_columns,
        "seconds": round(seconds, 2),
        "rows_per_second": round(scored / seconds) if seconds > 0 else None,
    }
