"""Read datasets and step files: local paths, file://, s3:// (MinIO too), gs://, http(s)://.

Everything is read as text: validation and feature typing (churnops.core) decide what is
numeric, so a blank string in a numeric column (Telco's TotalCharges) is not a read error.
"""

from __future__ import annotations

import csv
import io
import os
from urllib.parse import urlparse

import pandas as pd

from churnops.core import secrets
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


SNIFF_BYTES = 1 << 20  # how much of a large input is checked before any work


def check_csv_text(raw: bytes, uri: str, flag: str) -> None:
    """Refuse, naming the problem and the fix, what pandas would misread or fail on with a raw error.

    Binary content, text that is not UTF-8 (latin-1 / Windows-1252 exports), a semicolon- or
    tab-delimited file (one column named 'a;b;c'), and duplicate column names (pandas renames the
    second `gender` to `gender.1` and trains on both).
    """
    if b"\x00" in raw[:SNIFF_BYTES]:
        raise DatasetError(
            f"{uri} is not a text CSV (it contains NUL bytes: a spreadsheet, archive or other binary file?). "
            f"Export it as CSV (comma-separated, UTF-8) and pass that file with {flag}."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3 and len(raw) >= SNIFF_BYTES:  # a character cut by the sniff window
            text = raw[:exc.start].decode("utf-8-sig")
        else:
            line = raw[:exc.start].count(b"\n") + 1
            raise DatasetError(
                f"{uri} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} cannot be decoded "
                "(the file was probably saved as latin-1 / Windows-1252). Re-save it as UTF-8, for example "
                f"`iconv -f latin1 -t utf-8 in.csv > out.csv`, and pass the new file with {flag}."
            ) from None
    header_line = text.split("\n", 1)[0].rstrip("\r")
    header = next(csv.reader([header_line]), [])
    if len(header) <= 1:
        for name, delimiter in (("semicolon", ";"), ("tab", "\t"), ("pipe", "|")):
            if header_line.count(delimiter) >= 1:
                raise DatasetError(
                    f"{uri} is {name}-delimited (its header is one column: {header_line[:80]!r}); churnops reads "
                    f"comma-separated files. Re-export it with commas (for example `python -c \"import pandas as pd; "
                    f"pd.read_csv('in.csv', sep='{delimiter if delimiter != chr(9) else chr(92) + 't'}')"
                    f".to_csv('out.csv', index=False)\"`) and pass the new file with {flag}."
                )
    seen, duplicates = set(), []
    for name in (column.strip() for column in header):
        if name in seen and name not in duplicates:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise DatasetError(
            f"{uri} has duplicate column names: {', '.join(duplicates)}. Each column must have one name; rename or "
            f"drop the copies and pass the file again with {flag} (nothing was trained or scored)."
        )


def read_bytes(uri: str) -> bytes:
    path = local_path(uri)
    if path is not None:
        with open(path, "rb") as handle:
            return handle.read()
    return uris.read_remote(uri)


def read_dataset(uri: str) -> pd.DataFrame:
    """Read a CSV from a local path, file://, s3:// (MinIO too), gs:// or http(s):// (see churnops.storage.uris)."""
    path = local_path(uri)
    shown = secrets.redact(uri)  # what messages name: never a credential in the URI
    if path is None and uris.scheme(uri) not in uris.REMOTE_SCHEMES:
        raise DatasetError(
            f"Dataset URI scheme {uris.scheme(uri)!r} is not supported ({shown}). Use a local path, file://, "
            "s3://, gs://, http:// or https://."
        )
    if path is not None:
        if not os.path.exists(path):
            raise DatasetError(
                f"Dataset not found: {shown}. Pass an existing CSV file with --dataset "
                "(for example data/churn_synthetic.csv)."
            )
        if os.path.getsize(path) == 0:
            raise DatasetError(f"Dataset {shown} is empty (0 bytes). Pass a CSV with a header row and data rows.")
    try:
        raw = read_bytes(uri)
    except FileNotFoundError:
        raise DatasetError(f"Dataset not found: {shown}. Check the path or URI passed with --dataset.") from None
    check_csv_text(raw, shown, "--dataset")
    try:
        # Everything as text first: validation and feature typing decide what is numeric,
        # so a blank string in a numeric column (Telco's TotalCharges) is not a read error.
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise DatasetError(f"Dataset {shown} is empty. Pass a CSV with a header row and data rows.") from None
    except FileNotFoundError:
        raise DatasetError(f"Dataset not found: {shown}. Check the path or URI passed with --dataset.") from None
    except pd.errors.ParserError as exc:
        raise DatasetError(f"Dataset {shown} is not a readable CSV ({exc}). Check the file's delimiter and quoting.") from None
    if frame.empty:
        raise DatasetError(f"Dataset {shown} has a header but no data rows. Pass a CSV with data rows.")
    return frame


def read_features(path: str) -> pd.DataFrame:
    """Read back a feature CSV written by the load step, as text like the source."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def read_target(path: str) -> pd.Series:
    """Read back a 0/1 target CSV written by the load step."""
    frame = pd.read_csv(path)
    return frame.iloc[:, 0].astype(int)


def write_error(exc: OSError, path: str, what: str) -> DatasetError | None:
    """A full disk or quota while writing `path`, as an error naming the path and the fix (else None)."""
    import errno

    if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return None
    return DatasetError(
        f"No space left while writing {what} to {path} ({os.strerror(exc.errno)}); the partial file was removed and "
        "nothing was kept. Free space on that filesystem (or pass --output on another one) and run again."
    )
