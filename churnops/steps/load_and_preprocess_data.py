"""Step `load_and_preprocess_data`: read, validate and split the dataset into four CSVs."""

from __future__ import annotations

from typing import Any

from churnops import names
from churnops.core import data, secrets
from churnops.storage.datasets import read_dataset


def run(
    dataset_uri: str,
    test_size_ratio: float,
    target_column: str,
    random_state: int,
    positive_label: str,
    paths: dict[str, str],
) -> dict[str, Any]:
    """Read, validate and split; write x_train/y_train/x_test/y_test CSVs to `paths`."""
    frame = read_dataset(dataset_uri)
    split = data.split_dataset(frame, target_column, test_size_ratio, random_state, positive_label)
    if not positive_label:  # the run says which value it took for churn (the model's metadata keeps it)
        print(f"{names.PROGRESS_PREFIX}target {target_column}: {split.positive_label!r} means churn (read from its "
              "values; --positive-label overrides)", flush=True)
    split.x_train.to_csv(paths["x_train"], index=False)
    split.y_train.to_frame().to_csv(paths["y_train"], index=False)
    split.x_test.to_csv(paths["x_test"], index=False)
    split.y_test.to_frame().to_csv(paths["y_test"], index=False)
    return {
        "dataset_uri": secrets.redact(dataset_uri),  # recorded downstream (params, dataset source): never a credential
        "dataset_sha256": data.fingerprint(frame),
        "rows": len(frame),
        "train_rows": len(split.x_train),
        "test_rows": len(split.x_test),
        "target_column": target_column,
        "positive_label": split.positive_label,
        "churn_rate": round(float(split.y_train.mean()), 4),
        "test_size_ratio": test_size_ratio,
        "random_state": random_state,
    }
