"""`dataset_uri` against real stores: every scheme reads the same rows; missing and denied objects say so."""

from __future__ import annotations

import pytest

from churnops.core import data
from churnops.errors import DatasetError
from churnops.storage.datasets import read_dataset

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["local", "file", "http", "s3", "gs"])
def test_every_scheme_reads_the_same_dataset(dataset_uris, kind):
    expected = data.fingerprint(read_dataset(dataset_uris["local"]))
    frame = read_dataset(dataset_uris[kind])
    assert len(frame) == 5000
    assert data.fingerprint(frame) == expected


@pytest.mark.parametrize("kind", ["http", "s3", "gs"])
def test_missing_remote_object_is_named(dataset_uris, kind):
    uri = dataset_uris[kind].replace("churn", "no-such-object")
    with pytest.raises(DatasetError, match=r"Dataset not found: .*no-such-object.*--dataset"):
        read_dataset(uri)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("AWS_SECRET_ACCESS_KEY", "wrong-secret-for-this-test"), ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")],
    ids=["wrong-secret", "unknown-key"],
)
def test_wrong_s3_credentials_are_refused_with_the_fix(dataset_uris, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(DatasetError, match=r"Access denied reading s3://.*AWS_SECRET_ACCESS_KEY.*MLFLOW_S3_ENDPOINT_URL"):
        read_dataset(dataset_uris["s3"])


def test_s3_endpoint_comes_from_the_environment_like_mlflow(dataset_uris, monkeypatch, topology):
    """Without MLFLOW_S3_ENDPOINT_URL, AWS_ENDPOINT_URL (boto3's own variable) is honoured."""
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL", topology.s3_endpoint)
    assert len(read_dataset(dataset_uris["s3"])) == 5000


def test_unsupported_scheme_is_refused_before_any_read():
    with pytest.raises(DatasetError, match=r"scheme 'ftp' is not supported.*s3://, gs://"):
        read_dataset("ftp://example.invalid/churn.csv")
