"""Reading data: local paths and remote object stores (S3/MinIO, GCS, HTTP) through fsspec.

`uris` opens a URI the way MLflow and boto3 are configured; `datasets` reads datasets and the
CSV files steps hand each other.
"""
