"""Remote object stores (S3/MinIO, GCS, HTTP) through fsspec, configured the way MLflow is.

One place decides how a `dataset_uri` is opened, so the load step, the tests and the docs agree:
- `s3://`: s3fs with credentials from the usual AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
  as the `churnops-artifacts` Secret injects them) and a custom endpoint (MinIO) from
  MLFLOW_S3_ENDPOINT_URL, then AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL: the variables MLflow and
  boto3 read, so one Secret configures both the dataset read and the artifact upload.
- `gs://`: gcsfs with Application Default Credentials (workload identity on GKE). With
  STORAGE_EMULATOR_HOST set (as google-cloud-storage honours it) it talks to that emulator
  anonymously, over the JSON API only.
- `http(s)://`: fsspec's HTTP filesystem.
The environment is read when a URI is opened, never at import time.

Credentials in a URI (https://user:password@host/..., a signed URL's query) are only ever used here,
to open it: every message names the URI redacted (churnops.core.secrets), and a local run hands the
steps the redacted URI plus names.ENV_URI_CREDENTIALS, which `with_credentials` reads back. An
s3:// or gs:// URI with userinfo is refused: those stores take credentials from the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import IO, Any, Iterator, Mapping
from urllib.parse import urlparse

from churnops import names
from churnops.core import secrets
from churnops.errors import ChurnopsError, DatasetError, TrackingError

S3_ENDPOINT_VARIABLES = ("MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
GCS_EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
REMOTE_SCHEMES = ("s3", "s3a", "gs", "gcs", "http", "https")

# Error codes of S3-compatible stores that mean "these credentials may not do this".
S3_DENIED = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
             "InvalidToken", "403", "Forbidden")


def scheme(uri: str) -> str:
    return urlparse(uri).scheme.lower()


def s3_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    for name in S3_ENDPOINT_VARIABLES:
        if environ.get(name):
            return environ[name]
    return None


def storage_options(uri: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """fsspec options for `uri`. A fresh filesystem per call: credentials may change between runs."""
    environ = os.environ if environ is None else environ
    kind = scheme(uri)
    if kind in ("s3", "s3a"):
        options: dict[str, Any] = {"skip_instance_cache": True}
        endpoint = s3_endpoint(environ)
        if endpoint:
            options["client_kwargs"] = {"endpoint_url": endpoint}
        return options
    if kind in ("gs", "gcs"):
        options = {"skip_instance_cache": True}
        if environ.get(GCS_EMULATOR_VARIABLE):
            options["token"] = "anon"  # emulators have no auth; never fall back to the metadata server
        return options
    return {}


def with_credentials(uri: str, environ: Mapping[str, str] | None = None) -> str:
    """The URI to open for a recorded (redacted) one: from names.ENV_URI_CREDENTIALS, else `uri` itself."""
    environ = os.environ if environ is None else environ
    raw = environ.get(names.ENV_URI_CREDENTIALS, "")
    try:
        return json.loads(raw).get(uri, uri) if raw else uri
    except (ValueError, AttributeError):
        raise DatasetError(f"{names.ENV_URI_CREDENTIALS} must be a JSON object of URIs; unset it.") from None


def check_credentials(uri: str, flag: str = "--dataset") -> None:
    """Refuse userinfo in an object-store URI (s3fs and gcsfs take credentials from the environment)."""
    if scheme(uri) in ("s3", "s3a", "gs", "gcs") and secrets.has_userinfo(uri):
        raise DatasetError(
            f"{flag} {secrets.redact(uri)} carries credentials in the URI ({scheme(uri)}://USER:SECRET@...), which "
            f"{scheme(uri)}:// does not use and would leak into logs. Drop them from the URI; {_credentials_hint(uri)}."
        )


def filesystem(uri: str, environ: Mapping[str, str] | None = None):
    """(fsspec filesystem, path) for a remote URI, configured by storage_options."""
    import fsspec

    environ = os.environ if environ is None else environ
    check_credentials(uri)
    uri = with_credentials(uri, environ)
    options = storage_options(uri, environ)
    if scheme(uri) in ("gs", "gcs") and environ.get(GCS_EMULATOR_VARIABLE):
        # gcsfs' default filesystem first asks the gRPC storage-control API for the bucket type;
        # emulators serve only the JSON API (the call would hang for a minute, then fall back).
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem(**options), uri
    return fsspec.core.url_to_fs(uri, **options)


@contextlib.contextmanager
def open_input(uri: str, flag: str = "--dataset", environ: Mapping[str, str] | None = None) -> Iterator[IO[bytes]]:
    """A binary stream over a local path, file:// or remote URI, for chunked reads of large inputs.

    Opening failures (missing object, denied, unreachable) become a DatasetError naming `flag`.
    """
    parsed = urlparse(uri)
    if scheme(uri) not in REMOTE_SCHEMES:
        path = parsed.path if parsed.scheme == "file" else uri
        if not os.path.exists(path):
            raise DatasetError(f"Input not found: {secrets.redact(uri)}. Pass an existing CSV with {flag}.")
        with open(path, "rb") as stream:
            yield stream
        return
    try:
        fs, path = filesystem(uri, environ)
        stream = fs.open(path, "rb")
    except ChurnopsError:
        raise
    except Exception as exc:  # noqa: BLE001 (each backend raises its own types; classify below)
        raise dataset_error(uri, exc, flag) from None
    with stream:
        yield stream


def read_remote(uri: str, environ: Mapping[str, str] | None = None) -> bytes:
    """The bytes of a remote object; failures become a DatasetError that says what to fix.

    Read whole (datasets are CSVs of a few MB) so every failure surfaces here, not mid-parse.
    """
    try:
        fs, path = filesystem(uri, environ)
        with fs.open(path, "rb") as stream:
            return stream.read()
    except ChurnopsError:
        raise
    except Exception as exc:  # noqa: BLE001 (each backend raises its own types; classify below)
        raise dataset_error(uri, exc) from None


def _denied(exc: BaseException) -> bool:
    if isinstance(exc, PermissionError):
        return True
    text = f"{type(exc).__name__} {exc}"
    return any(code in text for code in S3_DENIED) or "401" in text or "Unauthorized" in text


def _credentials_hint(uri: str) -> str:
    kind = scheme(uri)
    if kind in ("s3", "s3a"):
        return ("Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the churnops-artifacts Secret) and, for "
                "MinIO, MLFLOW_S3_ENDPOINT_URL")
    if kind in ("gs", "gcs"):
        return ("Check the step's Google credentials (workload identity or GOOGLE_APPLICATION_CREDENTIALS) "
                "and that they may read the bucket")
    return "Check the URL is reachable from where the step runs"


def dataset_error(uri: str, exc: BaseException, flag: str = "--dataset") -> ChurnopsError:
    """A one-line DatasetError for a failed remote read: missing object, denied, or unreachable (credentials redacted)."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    detail = secrets.scrub(detail, uri, with_credentials(uri))
    uri = secrets.redact(uri)
    if isinstance(exc, FileNotFoundError) or "NoSuchKey" in detail or "NoSuchBucket" in detail:
        return DatasetError(f"Dataset not found: {uri} ({detail}). Check the bucket and object name passed with {flag}.")
    if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError"):
        return DatasetError(f"No credentials to read {uri} ({detail}). {_credentials_hint(uri)}.")
    if _denied(exc):
        return DatasetError(f"Access denied reading {uri} ({detail}). {_credentials_hint(uri)}.")
    where = f" (S3 endpoint: {s3_endpoint() or 'AWS default'})" if scheme(uri) in ("s3", "s3a") else ""
    return DatasetError(f"Cannot read {uri}{where} ({type(exc).__name__}: {detail}). {_credentials_hint(uri)}.")


STORE_FAILURES = ("NoCredentialsError", "PartialCredentialsError", "EndpointConnectionError",
                  "DefaultCredentialsError", "S3UploadFailedError", "ClientError")


def artifact_store_error(exc: BaseException, destination: str) -> ChurnopsError | None:
    """A clear error when writing MLflow artifacts failed for store reasons (credentials, endpoint,
    bucket), else None so that other failures keep their own message."""
    name = type(exc).__name__
    text = f"{name} {exc}"
    if not (_denied(exc) or name in STORE_FAILURES):
        return None
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    if "NoSuchBucket" in text:
        hint = f"The bucket of {destination} does not exist: create it or fix the experiment's artifact root"
    elif "Could not connect to the endpoint" in text or name == "EndpointConnectionError":
        endpoint = s3_endpoint() or "AWS default"
        hint = f"The object store is unreachable from this step (S3 endpoint: {endpoint}); check MLFLOW_S3_ENDPOINT_URL"
    elif destination.startswith(("s3://", "s3a://")) or "botocore" in type(exc).__module__ or "boto3" in type(exc).__module__:
        hint = _credentials_hint("s3://")
    elif destination.startswith(("gs://", "gcs://")) or "google" in type(exc).__module__:
        hint = _credentials_hint("gs://")
    else:
        hint = "Check the artifact store the MLflow server is configured with (--artifacts-destination) and its credentials"
    return TrackingError(
        f"Could not write model artifacts to {destination} ({name}: {detail}); nothing was registered. {hint}."
    )
