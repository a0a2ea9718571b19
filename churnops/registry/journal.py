"""The promotion journal: every alias move and decision is written down before it is applied.

MLflow moves one alias or one tag per call, so a promotion is several writes and a process killed
between two of them leaves a half-moved registry (`champion` on the new version and no
`previous-champion`; a decision tagged on no version). The journal closes that gap:

1. `begin` writes the whole plan (aliases to set or delete, version tags, audit entries, run tags)
   as one registered-model tag (`churnops.intent`) - a single write, so it is there or not;
2. `apply` performs every write of the plan; each is idempotent (setting an alias or a tag to the
   value it already has changes nothing; audit entries carry the intent id and are never doubled);
3. `finish` deletes the tag.

`recover` (run at the start of every promotion step, `churnops train` and the `churnops models`
commands that move aliases; never by a read-only command) finds a left-over intent and, holding the
registry's alias lock (churnops.registry.locks), reads it again: a writer that was only slow has
finished and cleared it by then, so nothing is replayed. Still there, its writer died: when every
alias it moves is still where it was before (`before`, snapshotted by `execute`) or already where
the intent puts it, it is applied again - rolling the interrupted promotion forward to the state the
uninterrupted run would have left - with an audit entry saying so; an alias that is at a third
version was moved since, so the intent is older than the registry and is discarded (audited), never
applied over the newer move. `execute` refuses to begin while an intent is pending.
A kill before `begin` leaves no intent: nothing moved, and the version is still `pending`, which
the rerun of the same training decides (churnops.app.runs.train does not skip a pending version).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from datetime import datetime, timezone
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from churnops import names
from churnops.errors import RegistryError
from churnops.registry import locks
from churnops.registry.narrative import narrate

KILLED_EXIT_CODE = 137  # what a SIGKILLed process reports: the injected crash looks like a real one
AUDIT_HISTORY = names.TAG_AUDIT_HISTORY
MAX_HISTORY_CHARS = 7000  # MLflow caps a tag value at 8000 characters


def default_actor() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # ordered within a second too


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


def audit(client: mlflow.MlflowClient, model_name: str, version: str, action: str, actor: str, reason: str,
          intent_id: str = "", at: str = "") -> None:
    """Tag who did what, when and why; keep a bounded JSON history of every action on the version.

    `intent_id`: the journal entry the action belongs to; an entry already in the history (a
    recovery replaying the journal) is not added twice. `at`: when it was decided (default: now).
    """
    when = at or now()
    current = client.get_model_version(model_name, version).tags.get(AUDIT_HISTORY, "[]")
    history = json.loads(current)
    if intent_id and any(e.get("intent") == intent_id and e.get("action") == action for e in history):
        return
    entry = {"action": action, "by": actor, "at": when, "reason": reason, **({"intent": intent_id} if intent_id else {})}
    history.append(entry)
    while len(json.dumps(history)) > MAX_HISTORY_CHARS and len(history) > 1:
        history.pop(0)
    # One tag (the last entry is the latest action; names.VERSION_TAGS keeps a version at 12 tags)
    # and the same history as an artifact of the version's source run, rewritten on every action.
    client.set_model_version_tag(model_name, version, AUDIT_HISTORY, json.dumps(history))
    write_history_artifact(client, model_name, version, history)


def history_artifact_path(model_name: str, version: str) -> str:
    return names.AUDIT_ARTIFACT.format(model_name=model_name, version=version)


def write_history_artifact(client: mlflow.MlflowClient, model_name: str, version: str, history: list) -> None:
    """The audit history beside the version's run (`churnops models history` reads it); none without a run."""
    run_id = client.get_model_version(model_name, version).run_id
    if run_id:
        client.log_dict(run_id, {"model_name": model_name, "version": str(version), "history": history},
                        history_artifact_path(model_name, version))


def boundary(name: str) -> None:
    """A step boundary (registration, promotion, training's open run): a no-op unless a test names it to crash here."""
    if os.environ.get(names.ENV_CRASH_AT) == name:
        os._exit(KILLED_EXIT_CODE)


def json_tag(tags: dict, key: str) -> Any:
    """A JSON tag's value; None when it is absent or not JSON."""
    try:
        return json.loads(tags[key]) if tags.get(key) else None
    except json.JSONDecodeError:
        return None


def guard_record(tags: dict, current: dict[str, str], set_aliases: dict[str, str], delete: list[str]) -> dict[str, str]:
    """Where the guarded aliases are after a churnops move (issue 27, churnops.registry.guard): the last
    record (or, before any, the aliases as they are) with this move's guarded aliases applied."""
    record = json_tag(tags, names.TAG_GUARD_RECORD)
    base = dict(record) if isinstance(record, dict) else {a: v for a, v in current.items() if a in names.GUARDED_ALIASES}
    for alias in names.GUARDED_ALIASES:
        if alias in set_aliases:
            base[alias] = str(set_aliases[alias])
        elif alias in delete:
            base.pop(alias, None)
    return dict(sorted(base.items()))


def plan(version: str, *, set_aliases: dict[str, str] | None = None, delete_aliases: list[str] | None = None,
         version_tags: dict[str, dict[str, str]] | None = None, audits: list[dict[str, str]] | None = None,
         run_id: str = "", run_tags: dict[str, str] | None = None, what: str = "") -> dict[str, Any]:
    """A journal entry: what to write, in order. `version_tags`: {version: {tag: value}}; `execute` adds
    `descriptions` ({version: text}) and `model_description` (churnops.registry.narrative)."""
    return {"id": uuid.uuid4().hex[:12], "what": what, "version": str(version),
            "set_aliases": dict(set_aliases or {}), "delete_aliases": list(delete_aliases or []),
            "version_tags": {str(v): dict(t) for v, t in (version_tags or {}).items()},
            "audits": list(audits or []), "run_id": run_id, "run_tags": dict(run_tags or {}),
            "descriptions": {}, "model_description": ""}


def read(client: mlflow.MlflowClient, model_name: str) -> dict[str, Any] | None:
    try:
        raw = client.get_registered_model(model_name).tags.get(names.TAG_INTENT)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code):
            return None
        raise
    return json.loads(raw) if raw else None


def begin(client: mlflow.MlflowClient, model_name: str, intent: dict[str, Any]) -> None:
    boundary("promote:before-intent")
    client.set_registered_model_tag(model_name, names.TAG_INTENT, json.dumps(intent, sort_keys=True))
    boundary("promote:after-intent")


def apply(client: mlflow.MlflowClient, model_name: str, intent: dict[str, Any]) -> None:
    """Every write of the plan, idempotently, with a named boundary after each."""
    for alias, version in intent["set_aliases"].items():
        client.set_registered_model_alias(model_name, alias, version)
        boundary(f"promote:after-set-{alias}")
    for alias in intent["delete_aliases"]:
        if alias_version(client, model_name, alias) is not None:
            client.delete_registered_model_alias(model_name, alias)
        boundary(f"promote:after-delete-{alias}")
    if any(alias in names.GUARDED_ALIASES for alias in [*intent["set_aliases"], *intent["delete_aliases"]]):
        # The guard's record of this move, before the entry is finished: while the entry is open
        # the guard does not judge, once it is finished the record matches the aliases.
        registered = client.get_registered_model(model_name)
        record = guard_record(dict(registered.tags), {a: str(v) for a, v in registered.aliases.items()},
                              intent["set_aliases"], intent["delete_aliases"])
        client.set_registered_model_tag(model_name, names.TAG_GUARD_RECORD, json.dumps(record, sort_keys=True))
    for version, tags in intent["version_tags"].items():
        for key, value in tags.items():
            client.set_model_version_tag(model_name, version, key, value)
        boundary(f"promote:after-tags-v{'new' if version == intent['version'] else 'old'}")
    # Entries journalled before descriptions existed have neither key: nothing to write.
    for version, text in intent.get("descriptions", {}).items():
        client.update_model_version(model_name, version, description=text)
    if intent.get("model_description"):
        client.update_registered_model(model_name, description=intent["model_description"])
    for entry in intent["audits"]:
        audit(client, model_name, entry["version"], entry["action"], entry["by"], entry["reason"],
              intent_id=intent["id"], at=entry.get("at", ""))
        boundary(f"promote:after-audit-{'new' if entry['version'] == intent['version'] else 'old'}")
    if intent["run_id"]:
        for key, value in intent["run_tags"].items():
            client.set_tag(intent["run_id"], key, value)
        boundary("promote:after-run-tags")


def finish(client: mlflow.MlflowClient, model_name: str) -> None:
    client.delete_registered_model_tag(model_name, names.TAG_INTENT)
    boundary("promote:after-finish")


def execute(client: mlflow.MlflowClient, model_name: str, intent: dict[str, Any]) -> None:
    """Journal, apply and finish one move; the caller holds the alias lock (every caller decides under it).
    Every move's entry carries the aliases it found (`before`, what a recovery compares with) and the
    descriptions of the registry after it (churnops.registry.narrative): the words change with the
    aliases, never later."""
    registered = client.get_registered_model(model_name)
    if registered.tags.get(names.TAG_INTENT):
        left = json.loads(registered.tags[names.TAG_INTENT])
        raise RegistryError(f"An interrupted {left.get('what') or 'alias move'} (journal {left.get('id')}) is pending "
                            f"on {model_name}; nothing was moved. Run the command again: it finishes that one first.")
    current = {alias: str(version) for alias, version in registered.aliases.items()}
    at = now()
    intent = {**intent, "before": {alias: current.get(alias) for alias in touched(intent)},
              "audits": [{"at": at, **entry} for entry in intent["audits"]]}
    intent = narrate(client, model_name, intent)
    begin(client, model_name, intent)
    apply(client, model_name, intent)
    finish(client, model_name)


def touched(intent: dict[str, Any]) -> list[str]:
    return sorted({*intent["set_aliases"], *intent["delete_aliases"]})


def moved_since(client: mlflow.MlflowClient, model_name: str, intent: dict[str, Any]) -> dict[str, str | None]:
    """The aliases of the intent that are neither where they were before it nor where it puts them."""
    before = intent.get("before")
    if before is None:  # journalled before the snapshot existed: nothing to compare with
        return {}
    current = {alias: str(v) for alias, v in client.get_registered_model(model_name).aliases.items()}
    moved = {}
    for alias in touched(intent):
        target = intent["set_aliases"].get(alias)  # None: the intent deletes it
        if current.get(alias) not in (before.get(alias), target):
            moved[alias] = current.get(alias)
    return moved


def recover(client: mlflow.MlflowClient, model_name: str, actor: str) -> dict[str, Any] | None:
    """Finish an interrupted promotion, if one was left, under the alias lock; returns what was done (None: nothing).

    A discarded intent (an alias moved since it was written) comes back with `discarded`: {alias: where it is}."""
    if read(client, model_name) is None:
        return None  # the common case: no lock taken
    with locks.alias_lock(locks.store_uri(client), client, model_name):
        intent = read(client, model_name)  # again, under the lock: a slow writer has finished its own by now
        if intent is None:
            return None
        if moved := moved_since(client, model_name, intent):
            where = ", ".join(f"{alias} is at {version or 'no version'}" for alias, version in sorted(moved.items()))
            audit(client, model_name, intent["version"], "discarded", actor,
                  f"did not finish the interrupted {intent['what'] or 'alias move'} (journal {intent['id']}): "
                  f"{where} since; a newer move wins over an older intent")
            client.delete_registered_model_tag(model_name, names.TAG_INTENT)
            return {**intent, "discarded": moved}
        apply(client, model_name, intent)
        audit(client, model_name, intent["version"], "recovered", actor,
              f"finished an interrupted {intent['what'] or 'alias move'} (journal {intent['id']}): "
              f"aliases {intent['set_aliases']} set, {intent['delete_aliases']} removed")
        client.delete_registered_model_tag(model_name, names.TAG_INTENT)
    return intent
