"""How remote URIs are configured and how their failures read (the stores themselves: tests/integration)."""

from __future__ import annotations

import re

import botocore.exceptions
import pytest

from churnops.errors import DatasetError, TrackingError
from churnops.storage import uris as storage


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"AWS_ENDPOINT_URL": "http://aws-generic:9000"}, "http://aws-generic:9000"),
        ({"AWS_ENDPOINT_URL": "http://generic", "AWS_ENDPOINT_URL_S3": "http://s3-only"}, "http://s3-only"),
        ({"AWS_ENDPOINT_URL_S3": "http://s3-only", "MLFLOW_S3_ENDPOINT_URL": "http://minio:9000"}, "http://minio:9000"),
    ],
    ids=["aws-default", "aws-endpoint", "s3-endpoint-wins", "mlflow-endpoint-wins"],
)
def test_s3_endpoint_follows_mlflow_then_boto3_variables(environ, expected):
    options = storage.storage_options("s3://bucket/churn.csv", environ)
    assert options.get("client_kwargs", {}).get("endpoint_url") == expected
    assert options["skip_instance_cache"] is True  # credentials are re-read for every open


@pytest.mark.parametrize(
    ("uri", "environ", "expected"),
    [
        ("gs://bucket/churn.csv", {}, {"skip_instance_cache": True}),
        ("gs://bucket/churn.csv", {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:9023"},
         {"skip_instance_cache": True, "token": "anon"}),
        ("https://example.org/churn.csv", {"MLFLOW_S3_ENDPOINT_URL": "http://minio"}, {}),
    ],
    ids=["gcs-default-credentials", "gcs-emulator-anonymous", "https-plain"],
)
def test_storage_options_per_scheme(uri, environ, expected):
    assert storage.storage_options(uri, environ) == expected


def _client_error(code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": f"{code} message"}}, "GetObject")


@pytest.mark.parametrize(
    ("uri", "exc", "expected"),
    [
        ("s3://b/k.csv", FileNotFoundError("b/k.csv"), r"Dataset not found: s3://b/k.csv .*--dataset"),
        ("s3://b/k.csv", PermissionError("Forbidden"), r"Access denied reading s3://b/k.csv.*AWS_SECRET_ACCESS_KEY"),
        ("s3://b/k.csv", _client_error("SignatureDoesNotMatch"), r"Access denied .*MLFLOW_S3_ENDPOINT_URL"),
        ("s3://b/k.csv", botocore.exceptions.NoCredentialsError(), r"No credentials to read s3://b/k.csv.*AWS_ACCESS_KEY_ID"),
        ("gs://b/k.csv", PermissionError("403"), r"Access denied reading gs://b/k.csv.*GOOGLE_APPLICATION_CREDENTIALS"),
        ("https://h/k.csv", ConnectionRefusedError("refused"), r"Cannot read https://h/k.csv .*reachable"),
    ],
    ids=["missing", "denied", "bad-signature", "no-credentials", "gcs-denied", "unreachable"],
)
def test_remote_read_failures_name_the_problem_and_the_fix(uri, exc, expected):
    error = storage.dataset_error(uri, exc)
    assert isinstance(error, DatasetError)
    assert re.search(expected, str(error)), str(error)


@pytest.mark.parametrize(
    ("exc", "hint"),
    [
        (_client_error("InvalidAccessKeyId"), "Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        (_client_error("NoSuchBucket"), "does not exist: create it or fix the experiment's artifact root"),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://minio:9000"),
         "unreachable from this step .*MLFLOW_S3_ENDPOINT_URL"),
    ],
    ids=["denied", "no-bucket", "unreachable"],
)
def test_artifact_write_failures_say_what_to_fix(exc, hint):
    error = storage.artifact_store_error(exc, "s3://bucket/direct/1")
    assert isinstance(error, TrackingError)
    assert str(error).startswith(f"Could not write model artifacts to s3://bucket/direct/1 ({type(exc).__name__}")
    assert "nothing was registered" in str(error)
    assert re.search(hint, str(error)), str(error)


def test_other_failures_keep_their_own_message():
    assert storage.artifact_store_error(ValueError("a bug"), "s3://bucket/direct/1") is None


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-uri"])
def test_open_input_streams_local_files(tmp_path, as_uri):
    path = tmp_path / "input.csv"
    path.write_text("a,b\n1,2\n")
    with storage.open_input(path.as_uri() if as_uri else str(path), "--input") as stream:
        assert stream.read() == b"a,b\n1,2\n"


def test_open_input_names_the_flag_for_a_missing_file(tmp_path):
    with pytest.raises(DatasetError, match=r"Input not found: .*absent.csv. Pass an existing CSV with --input"):
        with storage.open_input(str(tmp_path / "absent.csv"), "--input"):
            pass
