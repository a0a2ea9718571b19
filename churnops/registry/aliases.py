"""Move the serving aliases (`champion`, `previous-champion`, `challenger`) with an audit trail.

Aliases, never the deprecated stages. Every move re-reads the current champion right before it
sets the alias and refuses when it is not the one the caller decided against (optimistic
concurrency), and leaves audit tags (who / when / why / what) on the versions it touches.

MLflow has no compare-and-set on aliases: the re-read narrows the race to the milliseconds
between the read and the write, it cannot close it. Two runs deciding at the same millisecond
are the residual risk (see docs/operations.md).
"""

from __future__ import annotations

import mlflow
from mlflow.exceptions import MlflowException

from churnops import events, names
from churnops.errors import RegistryError
from churnops.registry import journal, locks
from churnops.registry.versions import missing_model

CHAMPION = names.ALIAS_CHAMPION
PREVIOUS = names.ALIAS_PREVIOUS_CHAMPION
CHALLENGER = names.ALIAS_CHALLENGER
# On the new champion: the champion it replaced, so rollback can walk back more than one step.
REPLACED_TAG = names.TAG_REPLACED_CHAMPION
AUDIT_HISTORY = journal.AUDIT_HISTORY


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


default_actor = journal.default_actor
now = journal.now
alias_version = journal.alias_version
audit = journal.audit


def get_version(client: mlflow.MlflowClient, model_name: str, version: str):
    try:
        return client.get_model_version(model_name, str(version))
    except MlflowException:
        if missing := missing_model(client, model_name):
            raise RegistryError(f"{missing} Pass it with --model-name.") from None
        raise RegistryError(
            f"{model_name} has no version {version}. List the versions with "
            f"`churnops models list --model-name {model_name}`."
        ) from None


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
    version_tags: dict[str, str] | None = None,
    run_id: str = "",
    run_tags: dict[str, str] | None = None,
) -> str | None:
    """Point `champion` at `version`; the replaced champion becomes `previous-champion`.

    `expected`: the champion the caller decided against; a different current champion raises
    ChampionChangedError before anything moves. `previous`: what `previous-champion` points at
    afterwards ("keep" = the replaced champion; None = remove it; a version = that version).
    `version_tags`/`run_tags`: the decision, written in the same journal entry as the moves.
    Returns the replaced champion.
    """
    current = alias_version(client, model_name, CHAMPION)  # the re-read, right before the write
    if current != expected:
        raise ChampionChangedError(model_name, expected, current)
    version = str(version)
    target = current if previous == "keep" else previous
    set_aliases, delete = {CHAMPION: version}, []
    if target and target != version:
        set_aliases[PREVIOUS] = target
    else:
        delete.append(PREVIOUS)
    if alias_version(client, model_name, CHALLENGER) == version:
        delete.append(CHALLENGER)
    tags = dict(version_tags or {})
    if action in ("promote", names.AUDIT_APPROVE) and current and current != version:
        tags[REPLACED_TAG] = current
    audits = [{"version": version, "action": action, "by": actor, "reason": reason}]
    if current and current != version:
        demoted = "rolled-back" if action == "rollback" else "demoted"
        audits.append({"version": current, "action": demoted, "by": actor,
                       "reason": f"champion moved to v{version}: {reason}"})
    journal.execute(client, model_name, journal.plan(
        version, set_aliases=set_aliases, delete_aliases=delete, version_tags={version: tags} if tags else {},
        audits=audits, run_id=run_id, run_tags=run_tags, what=f"{action} of v{version}"))
    return current


def announce(kind: str, model_name: str, version: str, replaced: str | None, actor: str, reason: str) -> None:
    """An operator's move, and the alias-moved hint the serving follower acts on."""
    subject, summary = f"{model_name}/v{version}", f"champion -> v{version} (was {_v(replaced)}) by {actor}: {reason}"
    data = {"model_name": model_name, "version": version, "replaced": replaced, "by": actor, "reason": reason}
    events.emit(kind, subject, {**data, "summary": summary})
    events.emit(events.ALIAS_MOVED, subject, {**data, "aliases": {CHAMPION: version}, "summary": summary})


UNSET = "read"  # the caller did not say which champion it expects: the one read under the lock


store_uri = locks.store_uri


def _expected(current: str | None, if_champion: str | None) -> str | None:
    if if_champion == UNSET:
        return current
    return None if if_champion in (None, "", "none") else str(if_champion)


def promote(client: mlflow.MlflowClient, model_name: str, version: str, *, actor: str, reason: str,
            if_champion: str | None = UNSET) -> dict:
    """An operator makes `version` the champion (whatever its validation status; audited).

    `if_champion`: move only if this is still the champion ("none": only if there is none);
    checked and moved under the store's alias lock (churnops.registry.locks).
    """
    found = get_version(client, model_name, version)
    version, status = str(found.version), found.tags.get(names.TAG_STATUS, "")
    with locks.alias_lock(store_uri(client), client, model_name):
        current = alias_version(client, model_name, CHAMPION)
        expected = _expected(current, if_champion)
        if current == version and expected == current:
            raise RegistryError(f"{model_name} v{version} is already the champion; nothing to do.")
        replaced = move_champion(client, model_name, version, expected, actor=actor, reason=reason)
    announce(events.CHAMPION_PROMOTED, model_name, version, replaced, actor, reason)
    return {"model_name": model_name, "champion": version, "previous_champion": replaced, "validation_status": status}


def rollback(client: mlflow.MlflowClient, model_name: str, *, actor: str, reason: str,
             if_champion: str | None = UNSET) -> dict:
    """`champion` back to `previous-champion`; the one before that (if recorded) becomes previous."""
    with locks.alias_lock(store_uri(client), client, model_name):
        current = alias_version(client, model_name, CHAMPION)
        expected = _expected(current, if_champion)
        target = alias_version(client, model_name, PREVIOUS)
        if target is None:
            raise RegistryError(
                f"{model_name} has no `{PREVIOUS}` alias to roll back to (champion: {_v(current)}). "
                f"Pick a version with `churnops models promote --model-name {model_name} --version N`."
            )
        before = get_version(client, model_name, target).tags.get(REPLACED_TAG)
        if before == current:
            before = None
        move_champion(client, model_name, target, expected, actor=actor, reason=reason, action="rollback",
                      previous=before)
    announce(events.CHAMPION_ROLLED_BACK, model_name, target, current, actor, reason)
    return {"model_name": model_name, "champion": target, "rolled_back": current, "previous_champion": before}
