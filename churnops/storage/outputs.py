"""Write predictions to an `output_uri` (local path, file://, s3://, gs://) atomically; list sharded inputs.

Never a half file at the final name: a local file is written beside it and renamed (os.replace,
atomic on one filesystem); an object is uploaded whole under a temporary key, its size checked,
then copied server-side to the final key (S3 CopyObject / GCS rewrite: the final key appears
complete or not at all) and the temporary key deleted. A reader polling the final key never
sees a prefix of the body.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from churnops import names
from churnops.core import run_time
from churnops.errors import DatasetError
from churnops.storage import uris

WRITABLE_REMOTE = ("s3", "s3a", "gs", "gcs")
GLOB_CHARACTERS = "*?["


def _local(uri: str) -> str | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return parsed.path
    return uri if parsed.scheme == "" else None


def output_uri_for(template: str, scheduled_time: str, environ: Mapping[str, str] | None = None) -> str:
    """The output URI of this run: `{scheduled_time}` replaced by the run's schedule time
    (churnops.core.run_time: KFP's driver fills it on a cluster, a local run's start time here)."""
    environ = os.environ if environ is None else environ
    return run_time.expand(template, scheduled_time, environ.get(names.ENV_RUN_TIME, ""),
                           datetime.now(timezone.utc))


def check_output_uri(uri: str, flag: str = "output_uri") -> None:
    if _local(uri) is None and uris.scheme(uri) not in WRITABLE_REMOTE:
        raise DatasetError(f"Cannot write predictions to {uri} ({flag}): use a local path, file://, s3:// or gs://.")


def publish(local_file: str, output_uri: str, environ: Mapping[str, str] | None = None) -> str:
    """Copy `local_file` to `output_uri` so that the final name only ever holds the whole file."""
    check_output_uri(output_uri)
    path = _local(output_uri)
    if path is not None:
        destination = Path(path).resolve()
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.partial-{uuid.uuid4().hex[:8]}")
        try:
            shutil.copyfile(local_file, partial)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)
        return str(destination)
    fs, remote = uris.filesystem(output_uri, environ)
    temporary = f"{remote}.partial-{uuid.uuid4().hex[:8]}"
    try:
        fs.put_file(local_file, temporary)
        uploaded, expected = fs.info(temporary)["size"], os.path.getsize(local_file)
        if int(uploaded) != expected:
            raise DatasetError(f"Upload to {output_uri} stored {uploaded} of {expected} bytes; nothing was published.")
        fs.copy(temporary, remote)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 (each backend raises its own types; classify below)
        raise uris.dataset_error(output_uri, exc, "output_uri") from None
    finally:
        try:
            fs.rm(temporary)
        except Exception:  # noqa: BLE001, S110 (the temporary key may not exist; never hide the real error)
            pass
    return output_uri


def normalise(uri: str) -> str:
    """One spelling per destination: a local path or file:// URI as its absolute path; others as given."""
    path = _local(uri)
    return str(Path(path).resolve()) if path is not None else uri


def join(base: str, name: str) -> str:
    """`name` inside the folder or prefix `base`."""
    return f"{base.rstrip('/')}/{name}"


def list_inputs(input_uri: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The files `input_uri` names, sorted: one file, a glob (`*`, `?`, `[`), or a prefix ending in `/` (its *.csv)."""
    path = _local(input_uri)
    pattern = input_uri.endswith("/") or any(character in input_uri for character in GLOB_CHARACTERS)
    if not pattern:
        return [input_uri]
    if path is not None:
        found = sorted(glob.glob(os.path.join(path, "*.csv") if input_uri.endswith("/") else path))
        found = [item for item in found if os.path.isfile(item)]
    else:
        fs, remote = uris.filesystem(input_uri, environ)
        try:
            if input_uri.endswith("/"):
                found = sorted(item for item in fs.find(remote) if fnmatch.fnmatch(item, "*.csv"))
            else:
                found = sorted(fs.glob(remote))
        except Exception as exc:  # noqa: BLE001
            raise uris.dataset_error(input_uri, exc, "input_uri") from None
        prefix = f"{uris.scheme(input_uri)}://"
        found = [item if item.startswith(prefix) else prefix + item for item in found]
    if not found:
        raise DatasetError(f"No input files match {input_uri}. Pass a CSV, a glob (data/part-*.csv) or a folder ending in /.")
    return found
