"""Lineage both ways: the dataset a run trained on (an MLflow dataset input) and the KFP run that produced it.

MLflow side: `log_training_lineage` logs the training split as a dataset input of the run that
holds the model (name = the file's stem, source = the dataset URI, digest = our content hash,
profile = rows, schema = the columns) and tags the KFP run it ran in. KFP fills the run's ids
into the step's arguments at run time (kfp 2.17.3 `dsl.PIPELINE_JOB_ID_PLACEHOLDER` and
`PIPELINE_JOB_NAME_PLACEHOLDER`; `kfp.local` fills both: kfp/local/placeholder_utils.py
resolve_individual_placeholder). KFP 2.17 has no placeholder for the pipeline version or the
recurring run, so those are not recorded; a placeholder left unfilled (`{{$...}}`) is dropped.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

import mlflow
import pandas as pd
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.models import infer_signature

from churnops import names
from churnops.core import secrets

MAX_DIGEST = 36  # MLflow's dataset digest column is 36 characters (mlflow.utils.validation.MAX_DATASET_DIGEST_SIZE)
# MLflow infers a column's type and whether it is required by looking at every value in Python
# (mlflow/types/utils.py _infer_array_datatype, _infer_required): 30 s for 112k training rows here,
# most of train_model's time on large data. The schema is inferred on a sample instead: the first
# SCHEMA_SAMPLE_ROWS rows plus, for each column with a missing value, its first such row, so a
# column that is optional in the whole split is optional in the sample (tested against the full
# inference in tests/churnops/registry/test_lineage_schema.py).
SCHEMA_SAMPLE_ROWS = 1_000
SOURCE_TYPES = {"": "local", "file": "local", "s3": "s3", "gs": "gcs", "http": "http", "https": "http"}


def dataset_name(dataset_uri: str) -> str:
    """`telco_customer_churn` for .../telco_customer_churn.csv: what the runs list shows."""
    return PurePosixPath(urlparse(dataset_uri).path or dataset_uri).stem or dataset_uri


def training_dataset(x_train: pd.DataFrame, y_train: pd.Series, dataset_info: dict[str, Any]) -> Dataset:
    """The MLflow dataset entity of a training split: our content hash as digest, our row counts as profile."""
    uri = secrets.redact(str(dataset_info.get("dataset_uri", "")))
    frame = x_train.assign(**{str(y_train.name or "target"): y_train.to_numpy()})
    schema = infer_signature(schema_sample(frame)).inputs  # what mlflow.data's PandasDataset records, without guessing a source
    profile = {key: dataset_info[key] for key in ("rows", "train_rows", "test_rows", "churn_rate", "target_column")
               if key in dataset_info}
    profile.setdefault("train_rows", len(x_train))
    profile["num_rows"] = int(dataset_info.get("rows", len(x_train)))
    return Dataset(
        name=dataset_name(uri),
        digest=str(dataset_info.get("dataset_sha256", ""))[:MAX_DIGEST] or "unknown",
        source_type=SOURCE_TYPES.get(urlparse(uri).scheme, urlparse(uri).scheme or "local"),
        source=json.dumps({"uri": uri}),
        schema=json.dumps({"mlflow_colspec": schema.to_dict()}) if schema is not None else None,
        profile=json.dumps(profile, sort_keys=True),
    )


def schema_sample(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows MLflow's schema inference needs to see (SCHEMA_SAMPLE_ROWS above)."""
    if len(frame) <= SCHEMA_SAMPLE_ROWS:
        return frame
    missing = frame.isna()
    first_missing = [int(missing[column].to_numpy().argmax()) for column in frame.columns if missing[column].any()]
    return frame.iloc[sorted(set(range(SCHEMA_SAMPLE_ROWS)) | set(first_missing))]


def kfp_tags(kfp_run: dict[str, str]) -> dict[str, str]:
    """The KFP run's ids as run tags; a placeholder KFP did not fill (`{{$...}}`) or an empty one is left out."""
    keys = {"run_id": names.RUN_TAG_KFP_RUN_ID, "run_name": names.RUN_TAG_KFP_RUN_NAME,
            "pipeline_name": names.RUN_TAG_KFP_PIPELINE}
    return {tag: str(kfp_run[key]) for key, tag in keys.items()
            if kfp_run.get(key) and not str(kfp_run[key]).startswith("{{")}


def log_training_lineage(client: mlflow.MlflowClient, run_id: str, x_train: pd.DataFrame, y_train: pd.Series,
                         dataset_info: dict[str, Any], kfp_run: dict[str, str] | None = None) -> dict[str, str]:
    """Dataset input (context `training`) and KFP tags on the run; returns the tags set."""
    dataset = training_dataset(x_train, y_train, dataset_info)
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])
    tags = {**kfp_tags(kfp_run or {}), names.RUN_TAG_DATASET: f"{dataset.name}@{dataset.digest[:12]}"}
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    return tags
