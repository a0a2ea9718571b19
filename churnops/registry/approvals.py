"""The `approval` promotion policy (issue 27): a version that passed the gate waits for a person.

The gate leaves it `awaiting-approval` with the `challenger` alias and a deadline
(`approval_expires` in its evidence). `approve` moves the champion under the same alias lock and
journal as every move, against the champion the gate compared it with (a champion that moved
since refuses: the comparison no longer holds), with the approver in the audit trail. `reject`
ends it. A deadline that passed ends it as `expired`, found by `expire_overdue` at the start of
every churnops command and by `approve` itself.

The version's description says each state in the words of churnops.core.narrative (its `_approval`
case), written by the journal entry of the move like every other description; `status_line` is
the sentence the events announce.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import mlflow

from churnops import events, names
from churnops.core.narrative import approval_line
from churnops.errors import RegistryError
from churnops.registry import aliases, cards, journal, locks


def status_line(status: str, *, version: str, by: str = "", at: str = "", reason: str = "", expires: str = "") -> str:
    """The one sentence an approval, rejection or expiry is announced with (events' `summary`)."""
    if status == names.STATUS_PASSED:
        return f"APPROVED by {by} ({at}) and PROMOTED to champion: {reason.rstrip('.')}"
    return approval_line(status, version=version, by=by, at=at, reason=reason, expires=expires)


def evidence(found) -> dict[str, Any]:
    return journal.json_tag(dict(found.tags), names.TAG_VALIDATION_EVIDENCE) or {}


def _awaiting(client: mlflow.MlflowClient, model_name: str, version: str):
    found = aliases.get_version(client, model_name, version)
    status = found.tags.get(names.TAG_STATUS, names.STATUS_PENDING)
    if status != names.STATUS_AWAITING_APPROVAL:
        raise RegistryError(
            f"{model_name} v{found.version} is not awaiting approval (validation_status {status}); only a version "
            f"that passed the gate under the `approval` policy can be approved or rejected. `churnops models list "
            f"--model-name {model_name}` shows which are; `churnops models promote` moves the champion on your authority.")
    return found


def overdue(found, now: datetime | None = None) -> bool:
    expires = evidence(found).get("approval_expires")
    if not expires:
        return False
    return (now or datetime.now(timezone.utc)) >= datetime.fromisoformat(expires)


def _end(client, model_name: str, found, status: str, action: str, actor: str, reason: str, kind: str,
         origin: str) -> dict[str, Any]:
    """Reject or expire: the status, the audit entry, the description, `challenger` removed; under the lock."""
    version = str(found.version)
    at = journal.now()
    line = status_line(status, version=version, by=actor, at=at, reason=reason,
                       expires=evidence(found).get("approval_expires", ""))
    with locks.alias_lock(aliases.store_uri(client), client, model_name):
        delete = [names.ALIAS_CHALLENGER] if aliases.alias_version(client, model_name, names.ALIAS_CHALLENGER) == version else []
        journal.execute(client, model_name, journal.plan(
            version, delete_aliases=delete,
            version_tags={version: {names.TAG_STATUS: status, names.TAG_VALIDATION_DECIDED: f"{at} {action} by {actor}"}},
            audits=[{"version": version, "action": action, "by": actor, "reason": reason}],
            what=f"{action} of v{version}"))
    cards.log(client, model_name, version)
    events.emit(kind, f"{model_name}/v{version}", {"model_name": model_name, "version": version, "status": status,
                                                  "by": actor, "reason": reason, "summary": line}, origin)
    return {"model_name": model_name, "version": version, "validation_status": status, "by": actor, "reason": reason}


def reject(client: mlflow.MlflowClient, model_name: str, version: str, *, actor: str, reason: str,
           origin: str = "cli") -> dict[str, Any]:
    found = _awaiting(client, model_name, version)
    return _end(client, model_name, found, names.STATUS_REJECTED, names.AUDIT_REJECT, actor, reason,
                events.APPROVAL_REJECTED, origin)


def expire_overdue(client: mlflow.MlflowClient, model_name: str, *, actor: str, origin: str = "cli",
                   now: datetime | None = None) -> list[str]:
    """End every approval whose deadline passed; returns the versions expired."""
    try:
        waiting = client.search_model_versions(
            f"name = '{model_name}' and tags.`{names.TAG_STATUS}` = '{names.STATUS_AWAITING_APPROVAL}'")
    except mlflow.exceptions.MlflowException:
        return []
    expired = []
    champion = aliases.alias_version(client, model_name, names.ALIAS_CHAMPION)
    for found in waiting:
        if str(found.version) == champion:
            continue  # made champion meanwhile by `models promote`, on an operator's authority: nothing to expire
        if overdue(found, now):
            _end(client, model_name, found, names.STATUS_EXPIRED, names.AUDIT_EXPIRE, actor,
                 f"not approved by {evidence(found).get('approval_expires')}", events.APPROVAL_EXPIRED, origin)
            expired.append(str(found.version))
    return expired


def approve(client: mlflow.MlflowClient, model_name: str, version: str, *, actor: str, reason: str,
            origin: str = "cli", now: datetime | None = None) -> dict[str, Any]:
    """Make an awaiting version the champion: against the champion the gate compared it with, under the lock."""
    found = _awaiting(client, model_name, version)
    version = str(found.version)
    if overdue(found, now):
        expire_overdue(client, model_name, actor=actor, origin=origin, now=now)
        raise RegistryError(
            f"{model_name} v{version}'s approval expired at {evidence(found)['approval_expires']} and is now `expired`; "
            f"nothing was moved. Retrain to have it gated again, or `churnops models promote --version {version}` "
            "on your own authority.")
    compared = evidence(found).get("compared_champion")
    expected = None if compared in (None, "", "none") else str(compared)
    at = journal.now()
    line = status_line(names.STATUS_PASSED, version=version, by=actor, at=at, reason=reason)
    tags = {names.TAG_STATUS: names.STATUS_PASSED, names.TAG_VALIDATION_ACTION: "promote",
            names.TAG_VALIDATION_DECIDED: f"{at} approved by {actor}"}
    with locks.alias_lock(aliases.store_uri(client), client, model_name):
        try:
            replaced = aliases.move_champion(
                client, model_name, version, expected, actor=actor, reason=reason,
                action=names.AUDIT_APPROVE, version_tags=tags)
        except aliases.ChampionChangedError as exc:
            raise RegistryError(
                f"The gate compared {model_name} v{version} with champion {aliases._v(expected)}, but the champion is now "
                f"{aliases._v(exc.current)}; nothing was moved. Retrain to compare with the current champion, or "
                f"`churnops models promote --version {version}` on your own authority.") from None
    cards.log(client, model_name, version)
    subject = f"{model_name}/v{version}"
    events.emit(events.APPROVAL_APPROVED, subject, {"model_name": model_name, "version": version, "by": actor,
                                                   "reason": reason, "replaced": replaced, "summary": line}, origin)
    events.emit(events.ALIAS_MOVED, subject, {"model_name": model_name, "aliases": {names.ALIAS_CHAMPION: version},
                                             "replaced": replaced, "summary": f"champion -> v{version} (approved)"}, origin)
    return {"model_name": model_name, "champion": version, "previous_champion": replaced, "by": actor,
            "reason": reason, "validation_status": names.STATUS_PASSED}
