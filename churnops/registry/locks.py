"""One writer at a time on the serving aliases, with the lock the store offers.

MLflow has no compare-and-set on an alias, so "re-read, then write" leaves a window in which two
writers both see the old champion and both move it (issue 16, Why 4: both report success). The
check and the moves must happen under a lock:

- embedded store (`sqlite:///...`): an exclusive `flock` on a file beside the database
  (`mlflow.db.aliases.lock`). Every churnops writer on this machine (CLI, local pipeline steps)
  takes it, so check-then-move is atomic among them. The OS drops the lock when a holder dies, so
  a killed writer never leaves it held.
- a tracking server (`http(s)://...`): MLflow's REST API offers no lock, so none is taken here;
  the re-read right before the write narrows the race but does not close it (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

LOCK_SUFFIX = ".aliases.lock"


def lock_path(tracking_uri: str) -> Path | None:
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///"):] + LOCK_SUFFIX)
    return None


@contextlib.contextmanager
def alias_lock(tracking_uri: str) -> Iterator[bool]:
    """Hold the store's alias lock (blocking); yields whether a real lock is held."""
    path = lock_path(tracking_uri)
    if path is None:
        yield False
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
