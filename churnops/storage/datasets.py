"""Read datasets and step files: local paths, file://, s3:// (MinIO too), gs://, http(s)://.

Everything is read as text: validation and feature typing (churnops.core) decide what is
numeric, so a blank string in a numeric column (Telco's TotalCharges) is not a read error.
"""

from __future__ import annotations

import io
import os
from urllib.parse import urlparse

import pandas as pd

from churnops.errors import DatasetError
from churnops.storage import uris


def local_path(uri: str) -> str | None:
    """The filesystem path of a local path or file:// URI, or None for a remote URI."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme == "":
        return uri
    return None


def read_dataset(uri: str) -> pd.DataFrame:
    """Read a CSV from a local path, file://, s3:// (MinIO too), gs:// or http(s):// (see churnops.storage.uris)."""
    path = local_path(uri)
    if path is None and uris.scheme(uri) not in uris.REMOTE_SCHEMES:
        raise DatasetError(
            f"Dataset URI scheme {uris.scheme(uri)!r} is not supported ({uri}). Use a local path, file://, "
            "s3://, gs://, http:// or https://."
        )
    if path is not None:
        if not os.path.exists(path):
            raise DatasetError(
                f"Dataset not found: {uri}. Pass an existing CSV file with --dataset "
                "(for example data/churn_synthetic.csv)."
            )
        if os.path.getsize(path) == 0:
            raise DatasetError(f"Dataset {uri} is empty (0 bytes). Pass a CSV with a header row and data rows.")
    try:
        # Everything as text first: validation and feature typing decide what is numeric,
        # so a blank string in a numeric column (Telco's TotalCharges) is not a read error.
        if path is not None:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        else:
            content = io.BytesIO(uris.read_remote(uri))
            frame = pd.read_csv(content, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise DatasetError(f"Dataset {uri} is empty. Pass a CSV with a header row and data rows.") from None
    except FileNotFoundError:
        raise DatasetError(f"Dataset not found: {uri}. Check the path or URI passed with --dataset.") from None
    except pd.errors.ParserError as exc:
        raise DatasetError(f"Dataset {uri} is not a readable CSV ({exc}). Check the file's delimiter and quoting.") from None
    if frame.empty:
        raise DatasetError(f"Dataset {uri} has a header but no data rows. Pass a CSV with data rows.")
    return frame


def read_features(path: str) -> pd.DataFrame:
    """Read back a feature CSV written by the load step, as text like the source."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def read_target(path: str) -> pd.Series:
    """Read back a 0/1 target CSV written by the load step."""
    frame = pd.read_csv(path)
    return frame.iloc[:, 0].astype(int)
