"""Move the serving aliases (`champion`, `previous-champion`, `challenger`) with an audit trail.

Aliases, never the deprecated stages. Every move re-reads the current champion right before it
sets the alias and refuses when it is not the one the caller decided against (optimistic
concurrency), and leaves audit tags (who / when / why / what) on the versions it touches.

MLflow has no compare-and-set on aliases: the re-read narrows the race to the milliseconds
between the read and the write, it cannot close it. Two runs deciding at the same millisecond
are the residual risk (see docs/operations.md).
"""

from __future__ import annotations

import getpass
import json
import socket
from datetime import datetime, timezone

import mlflow
from mlflow.exceptions import MlflowException

from churnops import names
from churnops.errors import RegistryError

CHAMPION = names.ALIAS_CHAMPION
PREVIOUS = names.ALIAS_PREVIOUS_CHAMPION
CHALLENGER = names.ALIAS_CHALLENGER
# On the new champion: the champion it replaced, so rollback can walk back more than one step.
REPLACED_TAG = names.TAG_REPLACED_CHAMPION
AUDIT_HISTORY = names.TAG_AUDIT_HISTORY
MAX_HISTORY_CHARS = 7000  # MLflow caps a tag value at 8000 characters


class ChampionChangedError(RegistryError):
    def __init__(self, model_name: str, expected: str | None, current: str | None) -> None:
        self.expected, self.current = expected, current
        super().__init__(
            f"The champion of {model_name} changed while deciding (expected "
            f"{_v(expected)}, found {_v(current)}); nothing was moved. Check `churnops models list "
            f"--model-name {model_name}` and retry."
        )


def _v(version: str | None) -> str:
    return f"v{version}" if version else "no champion"


def default_actor() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def alias_version(client: mlflow.MlflowClient, model_name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    try:
        return str(client.get_registered_model(model_name).aliases[alias])
    except KeyError:
        return None
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code):
            return None
        raise


def get_version(client: mlflow.MlflowClient, model_name: str, version: str):
    try:
        return client.get_model_version(model_name, str(version))
    except MlflowException:
        raise RegistryError(
            f"{model_name} has no version {version}. List the versions with "
            f"`churnops models list --model-name {model_name}`."
        ) from None


def audit(client: mlflow.MlflowClient, model_name: str, version: str, action: str, actor: str, reason: str) -> None:
    """Tag who did what, when and why; keep a bounded JSON history of every action on the version."""
    when = now()
    current = client.get_model_version(model_name, version).tags.get(AUDIT_HISTORY, "[]")
    history = json.loads(current) + [{"action": action, "by": actor, "at": when, "reason": reason}]
    while len(json.dumps(history)) > MAX_HISTORY_CHARS and len(history) > 1:
        history.pop(0)
    audit_tag = names.TAG_AUDIT_PREFIX
    tags = {f"{audit_tag}action": action, f"{audit_tag}by": actor, f"{audit_tag}at": when, f"{audit_tag}reason": reason,
            AUDIT_HISTORY: json.dumps(history)}
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)


def move_champion(
    client: mlflow.MlflowClient,
    model_name: str,
    version: str,
    expected: str | None,
    *,
    actor: str,
    reason: str,
    action: str = "promote",
    previous: str | None = "keep",
) -> str | None:
    """Point `champion` at `version`; the replaced champion becomes `previous-champion`.

    `expected`: the champion the caller decided against; a different current champion raises
    ChampionChangedError before anything moves. `previous`: what `previous-champion` points at
    afterwards ("keep" = the replaced champion; None = remove it; a version = that version).
    Returns the replaced champion.
    """
    current = alias_version(client, model_name, CHAMPION)  # the re-read, right before the write
    if current != expected:
        raise ChampionChangedError(model_name, expected, current)
    client.set_registered_model_alias(model_name, CHAMPION, version)
    target = current if previous == "keep" else previous
    if target and target != version:
        client.set_registered_model_alias(model_name, PREVIOUS, target)
    elif alias_version(client, model_name, PREVIOUS) is not None:
        client.delete_registered_model_alias(model_name, PREVIOUS)
    if alias_version(client, model_name, CHALLENGER) == str(version):
        client.delete_registered_model_alias(model_name, CHALLENGER)
    if action == "promote" and current and current != version:
        client.set_model_version_tag(model_name, version, REPLACED_TAG, current)
    audit(client, model_name, version, action, actor, reason)
    if current and current != version:
        demoted = "rolled-back" if action == "rollback" else "demoted"
        audit(client, model_name, current, demoted, actor, f"champion moved to v{version}: {reason}")
    return current


def promote(client: mlflow.MlflowClient, model_name: str, version: str, *, actor: str, reason: str) -> dict:
    """An operator makes `version` the champion (whatever its validation status; audited)."""
    found = get_version(client, model_name, version)
    version, status = str(found.version), found.tags.get(names.TAG_STATUS, "")
    current = alias_version(client, model_name, CHAMPION)
    if current == version:
        raise RegistryError(f"{model_name} v{version} is already the champion; nothing to do.")
    replaced = move_champion(client, model_name, version, current, actor=actor, reason=reason)
    return {"model_name": model_name, "champion": version, "previous_champion": replaced, "validation_status": status}


def rollback(client: mlflow.MlflowClient, model_name: str, *, actor: str, reason: str) -> dict:
    """`champion` back to `previous-champion`; the one before that (if recorded) becomes previous."""
    current = alias_version(client, model_name, CHAMPION)
    target = alias_version(client, model_name, PREVIOUS)
    if target is None:
        raise RegistryError(
            f"{model_name} has no `{PREVIOUS}` alias to roll back to (champion: {_v(current)}). "
            f"Pick a version with `churnops models promote --model-name {model_name} --version N`."
        )
    before = get_version(client, model_name, target).tags.get(REPLACED_TAG)
    if before == current:
        before = None
    move_champion(client, model_name, target, current, actor=actor, reason=reason, action="rollback", previous=before)
    return {"model_name": model_name, "champion": target, "rolled_back": current, "previous_champion": before}
