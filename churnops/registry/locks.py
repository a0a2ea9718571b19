"""One writer at a time on the serving aliases, with the lock the store offers.

MLflow has no compare-and-set on an alias, so "re-read, then write" leaves a window in which two
writers both see the old champion and both move it (issue 16, Why 4: both report success). The
check and the moves must happen under a lock:

- embedded store (`sqlite:///...`): an exclusive `flock` on a file beside the database
  (`mlflow.db.aliases.lock`). Every churnops writer on this machine (CLI, local pipeline steps)
  takes it, so check-then-move is atomic among them. The OS drops the lock when a holder dies, so
  a killed writer never leaves it held.
- a tracking server (`http(s)://...`, or a database URI used directly): MLflow has no lock and no
  compare-and-set on aliases or tags (a tag read back after writing proves nothing: a second
  writer can overwrite it a millisecond later and read back its own). It does have one
  operation that only one caller can win: creating a registered model, whose name is the
  primary key of `registered_models` (mlflow 3.17.2
  store/model_registry/sqlalchemy_store.py::create_registered_model turns the IntegrityError
  into RESOURCE_ALREADY_EXISTS). The lease is the registered model `<model>.alias-lease`,
  created with a unique token and an expiry as tags in the same transaction, read back and
  verified, deleted on release. A writer that finds it held waits (bounded) and then refuses.
  A lease whose holder died expires after ALIAS_LEASE_SECONDS; breaking it renames it first
  (only one breaker's rename can succeed, the old name is gone for the other).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST, ErrorCode

from churnops import defaults, names
from churnops.errors import RegistryError

LOCK_SUFFIX = ".aliases.lock"
BUSY = {ErrorCode.Name(RESOURCE_ALREADY_EXISTS), ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)}


def store_uri(client) -> str:
    """The registry URI an MlflowClient was built with (the store whose lock guards its aliases)."""
    return client._registry_uri  # noqa: SLF001 (MlflowClient keeps the URI it was built with; no public getter)


def lock_path(tracking_uri: str) -> Path | None:
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///"):] + LOCK_SUFFIX)
    return None


@contextlib.contextmanager
def alias_lock(tracking_uri: str, client=None, model_name: str = "") -> Iterator[bool]:
    """Hold the store's alias lock (blocking, bounded on a server); yields whether a real lock is held.

    SQLite: the flock. Any other store, given the client and the model: the lease.
    """
    path = lock_path(tracking_uri)
    if path is None:
        if client is None or not model_name:
            yield False
            return
        with lease(client, model_name):
            yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lease_name(model_name: str) -> str:
    return f"{model_name}{names.LEASE_MODEL_SUFFIX}"


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _read(client, name: str) -> dict[str, str] | None:
    try:
        return dict(client.get_registered_model(name).tags)
    except MlflowException as exc:
        if exc.error_code in BUSY:
            return None
        raise


@contextlib.contextmanager
def lease(client, model_name: str, *, seconds: float = defaults.ALIAS_LEASE_SECONDS,
          wait: float = defaults.ALIAS_LEASE_WAIT_SECONDS) -> Iterator[str]:
    """Hold the alias lease of `model_name` on the client's store; yields its token."""
    name, token = lease_name(model_name), uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while True:
        expires = int((time.time() + seconds) * 1000)
        try:
            client.create_registered_model(
                name, tags={names.TAG_LEASE_TOKEN: token, names.TAG_LEASE_EXPIRES: str(expires),
                            names.TAG_LEASE_HOLDER: _holder()},
                description=f"churnops: held while the aliases of {model_name} move; never edit.")
        except MlflowException as exc:
            if exc.error_code not in BUSY:
                raise
            held = _read(client, name)
            if held is not None and int(held.get(names.TAG_LEASE_EXPIRES, "0")) < time.time() * 1000:
                _break(client, name, held.get(names.TAG_LEASE_TOKEN, ""))
                continue
            if time.monotonic() >= deadline:
                holder = (held or {}).get(names.TAG_LEASE_HOLDER, "another writer")
                raise RegistryError(
                    f"The aliases of {model_name} are being moved by {holder} (the registered model {name} "
                    f"is its lease); waited {wait:.0f} s, nothing was moved. Retry; a lease whose holder "
                    f"died expires {seconds:.0f} s after it was taken.") from None
            time.sleep(defaults.ALIAS_LEASE_POLL_SECONDS)
            continue
        if (_read(client, name) or {}).get(names.TAG_LEASE_TOKEN) != token:  # verified after write
            raise RegistryError(f"The alias lease {name} was not ours after creating it; nothing was moved. Retry.")
        break
    try:
        yield token
    finally:
        if (_read(client, name) or {}).get(names.TAG_LEASE_TOKEN) == token:
            client.delete_registered_model(name)


def _break(client, name: str, stale_token: str) -> None:
    """Remove an expired lease: rename it aside (one breaker wins), then delete it if it was the stale one."""
    aside = f"{name}.expired-{stale_token or uuid.uuid4().hex}"
    try:
        client.rename_registered_model(name, aside)
    except MlflowException as exc:
        if exc.error_code in BUSY:
            return  # another writer broke or released it first
        raise
    if (_read(client, aside) or {}).get(names.TAG_LEASE_TOKEN) == stale_token:
        client.delete_registered_model(aside)
        return
    # A fresh lease was taken between our read and the rename: give it back.
    client.rename_registered_model(aside, name)
