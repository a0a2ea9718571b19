"""Journal recovery under the alias lock (issue 25): no older intent wins, read-only commands never write.

Real `churnops models` CLI runs (churnops.app.cli.main) in processes forked after the imports, on one
SQLite store. The window between reading the journal and applying it is widened on purpose: in the
forked child, `churnops.registry.journal.apply` is wrapped to signal that it was reached, then to
wait until the test releases it (at most WINDOW seconds), so the interleaving is the same on every
run. Before the fix, recovery ran without the lock at the start of every `churnops models` command,
read-only ones included: a concurrent `models list` re-applied an interrupted promote of v2 after a
newer promote of v3 (champion back to v2), and a plain concurrent promote "finished" the other one's
in-flight entry and wrote a `recovered` audit entry. About 40 s for the module.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass

import mlflow
import pytest

from churnops.app.cli import main
from churnops.registry import aliases, journal
from churnops.registry.tracking import embedded_tracking_uri

WINDOW = 60.0  # at most this long between the journal read and its apply, in the child that is held
_models = itertools.count(1)
CONTEXT = multiprocessing.get_context("fork")


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    return embedded_tracking_uri(tmp_path_factory.mktemp("recovery-race"))


@pytest.fixture
def model(uri):
    """A registered model with versions 1-3, v1 champion: (client, name)."""
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = f"race-model-{next(_models)}"
    client.create_registered_model(name)
    for _ in range(3):
        client.create_model_version(name, "file:///nowhere")
    aliases.promote(client, name, "1", actor="setup", reason="first champion")
    return client, name


def _child(argv: list[str], log: str, held: bool, entered, release, crash_at: str) -> None:
    sys.stdout = sys.stderr = open(log, "w", buffering=1)  # noqa: SIM115 (the child's whole life; pytest captures the fds)
    if crash_at:
        os.environ["CHURNOPS_CRASH_AT"] = crash_at
    if held:
        original = journal.apply

        def widened(*args, **kwargs):
            entered.set()
            release.wait(WINDOW)
            return original(*args, **kwargs)

        journal.apply = widened
    code = main(argv)
    sys.stdout.flush()
    os._exit(code)


@dataclass
class Child:
    process: multiprocessing.Process
    entered: object  # set when its journal apply is reached
    release: object  # set to let that apply go on

    def finish(self, timeout: float = 120.0) -> int:
        self.release.set()
        self.process.join(timeout)
        assert self.process.exitcode is not None, "the child did not finish"
        return self.process.exitcode


def start(uri: str, name: str, argv: list[str], log, *, held: bool = False, crash_at: str = "") -> Child:
    """`churnops models ARGV` in a forked child; `held`: its journal apply waits for release."""
    entered, release = CONTEXT.Event(), CONTEXT.Event()
    process = CONTEXT.Process(target=_child, args=(
        ["models", *argv, "--model-name", name, "--tracking-uri", uri], str(log), held, entered, release, crash_at))
    process.start()
    return Child(process, entered, release)


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def waits_for_a_lock(pid: int) -> bool:
    """Whether process `pid` is blocked on a file lock (Linux /proc/locks lists waiters with "->")."""
    with open("/proc/locks") as locks:
        return any(line.split()[1] == "->" and line.split()[5] == str(pid) for line in locks if "->" in line)


def interrupted_promote(uri: str, name: str, version: str, log) -> None:
    """A promote killed right after it journalled its intent (nothing applied): the kill-matrix boundary."""
    child = start(uri, name, ["promote", "--version", version, "--by", "killed"], log, crash_at="promote:after-intent")
    assert child.finish() == journal.KILLED_EXIT_CODE


def state(client, name) -> dict:
    registered = client.get_registered_model(name)
    audits = {version: [(entry["action"], entry["by"]) for entry in
                        json.loads(client.get_model_version(name, version).tags.get(aliases.AUDIT_HISTORY, "[]"))]
              for version in ("1", "2", "3")}
    return {"aliases": {alias: str(v) for alias, v in registered.aliases.items()},
            "intent": registered.tags.get("churnops.intent"), "audits": audits}


def test_a_reader_never_replays_an_old_intent_over_a_newer_promote(model, uri, tmp_path):
    client, name = model
    interrupted_promote(uri, name, "2", tmp_path / "killed.log")
    reader = start(uri, name, ["list", "--no-rescore"], tmp_path / "reader.log", held=True)
    # Before the fix the reader replays the intent and is held right before applying it; fixed, it never
    # applies anything and just finishes.
    wait_for(lambda: reader.entered.is_set() or not reader.process.is_alive(), "the reader to read the journal")
    writer = start(uri, name, ["promote", "--version", "3", "--by", "writer"], tmp_path / "writer.log")
    assert writer.finish() == 0, (tmp_path / "writer.log").read_text()
    assert reader.finish() == 0, (tmp_path / "reader.log").read_text()  # released only now: after the newer promote
    after = state(client, name)
    # The writer finished the interrupted promote of v2 first, then moved champion to v3: v3 stays.
    assert after["aliases"] == {"champion": "3", "previous-champion": "2"}, after
    assert after["intent"] is None
    assert not [entry for entries in after["audits"].values() for entry in entries
                if not entry[1].startswith(("setup", "killed", "writer", "churnops models: writer"))], after
    assert "finished an interrupted promote of v2" in (tmp_path / "writer.log").read_text()


def test_a_concurrent_promote_waits_instead_of_finishing_the_others_move(model, uri, tmp_path):
    client, name = model
    first = start(uri, name, ["promote", "--version", "2", "--by", "first"], tmp_path / "first.log", held=True)
    wait_for(first.entered.is_set, "the first promote to journal its intent")  # its apply is held
    second = start(uri, name, ["promote", "--version", "3", "--by", "second"], tmp_path / "second.log")
    # The second blocks on the alias lock the first holds (before the fix: after "finishing" the first's
    # entry itself, at its own move); then the first goes on.
    wait_for(lambda: waits_for_a_lock(second.process.pid), "the second promote to wait for the lock")
    assert first.finish() == 0, (tmp_path / "first.log").read_text()
    assert second.finish() == 0, (tmp_path / "second.log").read_text()
    after = state(client, name)
    assert after["aliases"] == {"champion": "3", "previous-champion": "2"}, after
    actions = [action for entries in after["audits"].values() for action, _ in entries]
    assert "recovered" not in actions, after
    assert "interrupted" not in (tmp_path / "second.log").read_text()


@pytest.mark.parametrize("command", [["list", "--no-rescore"], ["show", "--version", "2"], ["history"]])
def test_read_only_commands_leave_a_pending_intent_and_the_aliases_as_they_are(model, uri, tmp_path, command):
    client, name = model
    interrupted_promote(uri, name, "2", tmp_path / "killed.log")
    before = state(client, name)
    assert before["intent"] is not None
    reader = start(uri, name, command, tmp_path / "read.log")
    assert reader.finish() == 0, (tmp_path / "read.log").read_text()
    assert state(client, name) == before
    assert "is pending" in (tmp_path / "read.log").read_text()


def test_an_intent_older_than_the_aliases_is_discarded_not_applied(model, uri, tmp_path):
    """Killed after journalling champion -> v2; the champion was moved to v3 since (by hand, outside churnops)."""
    client, name = model
    interrupted_promote(uri, name, "2", tmp_path / "killed.log")
    client.set_registered_model_alias(name, "champion", "3")
    result = journal.recover(client, name, "test")
    assert result is not None and result["discarded"] == {"champion": "3"}
    after = state(client, name)
    assert after["aliases"]["champion"] == "3" and after["intent"] is None
    assert ("discarded", "test") in after["audits"]["2"]
