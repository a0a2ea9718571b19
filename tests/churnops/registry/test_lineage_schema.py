"""The training dataset's schema, inferred on a sample, is the schema MLflow infers on the whole split."""

from __future__ import annotations

import json

import pandas as pd
from mlflow.models import infer_signature

from churnops.core.data import split_dataset
from churnops.registry import lineage
from churnops.storage.datasets import read_dataset


def test_the_sampled_schema_equals_the_full_one_with_blanks_far_past_the_sample(tmp_path, make_churn_dataset):
    frame, target = make_churn_dataset("messy", rows=6000)
    # Missing values only after the sample's first rows, in a number and in a category.
    frame.loc[:4999, "plan"] = frame.loc[:4999, "plan"].fillna("basic")
    frame.loc[:4999, "monthly_spend"] = frame.loc[:4999, "monthly_spend"].replace(" ", "12.5")
    path = tmp_path / "messy.csv"
    frame.to_csv(path, index=False)
    full = read_dataset(str(path))  # as the pipeline reads it, in file order
    assert full.iloc[:lineage.SCHEMA_SAMPLE_ROWS][["plan", "monthly_spend"]].notna().all().all()
    sample = lineage.schema_sample(full)
    assert len(sample) < len(full)
    assert infer_signature(sample).inputs.to_dict() == infer_signature(full).inputs.to_dict()
    # The optional columns are the ones with blanks somewhere, whatever the first rows hold.
    optional = {spec["name"] for spec in infer_signature(sample).inputs.to_dict() if not spec.get("required", True)}
    assert optional == {column for column in full.columns if full[column].isna().any()}
    assert "plan" in optional


def test_the_training_dataset_entity_records_the_sampled_schema(make_churn_dataset):
    frame, target = make_churn_dataset("messy", rows=3000)
    split = split_dataset(frame, target, 0.2)
    dataset = lineage.training_dataset(split.x_train, split.y_train, {"dataset_uri": "/data/messy.csv"})
    full = split.x_train.assign(**{target: split.y_train.to_numpy()})
    assert json.loads(dataset.schema)["mlflow_colspec"] == infer_signature(full).inputs.to_dict()


def test_a_small_split_is_inferred_whole():
    frame = pd.DataFrame({"a": [1.0, None, 3.0]})
    assert lineage.schema_sample(frame) is frame
