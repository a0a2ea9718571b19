"""The guarded champion: an alias move churnops did not make is found, announced and, under `enforce`, put back.

Every move churnops makes goes through the promotion journal (churnops.registry.journal), which
writes, in the same entry as the move's audit entries, where it left the guarded aliases
(`champion`, `previous-champion`) as the registered-model tag `churnops.guard.aliases`. A guarded
alias anywhere else was moved by something that wrote no audit entry: the MLflow UI's alias
editor, a script calling `set_registered_model_alias`. The check runs at the start of every
churnops command, in the serving follower on every poll, and when MLflow's webhook (or our own
event) says an alias moved.

A finding is confirmed under the alias lock (a churnops move in progress holds it and has its
journal entry open, so it is never mistaken for one), announced once (event `guard.finding`,
audit entry on the version the alias was moved to), and under the policy `enforce` put back by a
journal entry of its own (`guard-restored` / `guard-refused` audit entries). The policy is the
one the last gate recorded on the registered model (`churnops.policy`, from the pipeline's
parameters: the environment's schedule in git).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import mlflow
from mlflow.exceptions import MlflowException

from churnops import events, names
from churnops.core.promotion import Governance
from churnops.registry import journal, locks
from churnops.registry.aliases import store_uri


@dataclass(frozen=True)
class Finding:
    alias: str
    expected: str | None  # where churnops left it (None: churnops had removed it)
    found: str | None  # where it is now (None: deleted)

    def describe(self) -> str:
        return (f"`{self.alias}` is on {_v(self.found)} but churnops last put it on {_v(self.expected)} "
                "(moved outside churnops: no audit entry)")

    def to_dict(self) -> dict:
        return asdict(self)


def _v(version: str | None) -> str:
    return f"v{version}" if version else "no version"


_json_tag = journal.json_tag


def policy(registered) -> Governance:
    """The policy the last gate ran under (the defaults before any gate recorded one)."""
    try:
        return Governance.from_dict(_json_tag(dict(registered.tags), names.TAG_POLICY))
    except (TypeError, ValueError):
        return Governance()


def findings(registered) -> list[Finding]:
    """The guarded aliases that are not where churnops left them (none while a journal entry is open, or
    before churnops recorded anything: a store from before the guard)."""
    tags = dict(registered.tags)
    if names.TAG_INTENT in tags:
        return []
    record = _json_tag(tags, names.TAG_GUARD_RECORD)
    if not isinstance(record, dict):
        return []
    aliases = {alias: str(version) for alias, version in registered.aliases.items()}
    return [Finding(alias, record.get(alias), aliases.get(alias)) for alias in names.GUARDED_ALIASES
            if record.get(alias) != aliases.get(alias)]


def _registered(client: mlflow.MlflowClient, model_name: str):
    try:
        return client.get_registered_model(model_name)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code):
            return None
        raise


def check(client: mlflow.MlflowClient, model_name: str, *, actor: str, origin: str,
          enforce: bool | None = None) -> list[Finding]:
    """Find, announce and (under `enforce`) put back alias moves made outside churnops. Returns the findings.

    Cheap when nothing is wrong: one read of the registered model, no lock.
    """
    registered = _registered(client, model_name)
    if registered is None or not findings(registered):
        return []
    with locks.alias_lock(store_uri(client), client, model_name):
        registered = _registered(client, model_name)
        found = findings(registered) if registered is not None else []
        if not found:
            return []  # a churnops move finished meanwhile
        governance = policy(registered)
        restore = governance.guard == "enforce" if enforce is None else enforce
        key = json.dumps([f.to_dict() for f in found], sort_keys=True)
        if not restore and registered.tags.get(names.TAG_GUARD_FINDING) == key:
            return found  # announced already; under `report` it stays until churnops moves the alias
        what = "; ".join(f.describe() for f in found)
        if restore:
            _put_back(client, model_name, found, actor, what)
        else:
            for finding in found:
                if finding.found:
                    journal.audit(client, model_name, finding.found, names.AUDIT_GUARD_REPORTED, actor,
                                  f"{what}; policy `report`: left as it is")
            client.set_registered_model_tag(model_name, names.TAG_GUARD_FINDING, key)
    summary = f"{what}; {'put back (policy enforce)' if restore else 'left as it is (policy report)'}"
    events.emit(events.GUARD_FINDING, model_name, {"model_name": model_name, "findings": [f.to_dict() for f in found],
                                                   "restored": restore, "summary": summary}, origin)
    if restore:
        expected = {f.alias: f.expected for f in found}
        events.emit(events.ALIAS_MOVED, model_name, {"model_name": model_name, "aliases": expected,
                                                     "summary": f"guard put back {expected}"}, origin)
    return found


def _put_back(client: mlflow.MlflowClient, model_name: str, found: list[Finding], actor: str, what: str) -> None:
    set_aliases = {f.alias: f.expected for f in found if f.expected}
    delete = [f.alias for f in found if not f.expected]
    audits = [{"version": f.expected, "action": names.AUDIT_GUARD_RESTORED, "by": actor,
               "reason": f"{what}; put back (policy enforce)"} for f in found if f.expected]
    audits += [{"version": f.found, "action": names.AUDIT_GUARD_REFUSED, "by": actor,
                "reason": f"{what}; the move was undone (policy enforce)"} for f in found if f.found]
    main = next((f.expected for f in found if f.alias == names.ALIAS_CHAMPION and f.expected), None)
    journal.execute(client, model_name, journal.plan(
        main or (found[0].expected or found[0].found or ""), set_aliases=set_aliases, delete_aliases=delete,
        audits=audits, what="guard put-back"))
    if names.TAG_GUARD_FINDING in client.get_registered_model(model_name).tags:
        client.delete_registered_model_tag(model_name, names.TAG_GUARD_FINDING)


def served_version(client: mlflow.MlflowClient, model_name: str, alias: str, resolved_version: str, *,
                   actor: str, origin: str) -> tuple[str, list[Finding]]:
    """The version serving may follow for `alias`, and the findings of the check it runs (announce, put back):
    the alias's own version, unless the guard refuses the move (policy `enforce`), then where churnops put it."""
    if alias not in names.GUARDED_ALIASES:
        return resolved_version, []
    found = check(client, model_name, actor=actor, origin=origin)
    mine = [f for f in found if f.alias == alias]
    if not mine or not mine[0].expected:
        return resolved_version, found
    registered = _registered(client, model_name)
    if registered is None or policy(registered).guard != "enforce":
        return resolved_version, found
    return mine[0].expected, found
