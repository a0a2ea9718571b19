"""Every `churnops ...` and `make ...` command that README.md and docs/*.md show works as shown.

What is checked, and how (no long training is run for a doc line):
- every command line in a code block (fenced or indented, `\\` continuations joined, `# comments`
  dropped) is written as a fresh clone runs it: `.venv/bin/churnops`, never a bare `churnops`;
- a concrete command (no `[optional]`, `a|b` or PLACEHOLDER) parses with the real argparse parser;
- a synopsis (in a code block, or an inline `churnops ...` in the prose) names only commands and
  flags that exist: each `--flag` is an option of the (sub)command it follows;
- a `make TARGET` names a target of the Makefile;
- the cheap ones run for real, in a fresh process: `--help` of every (sub)command shown, `compile`
  (into tmp), `make help`; `models list|show|history` against a store with one trained version (the
  e2e tier: they need the session's trained run). `train`, `predict`, `serve`, `mlflow ui|serve`,
  `sync` without --check and the alias moves are parsed only: their behaviour is the subject of
  their own tests (tests/e2e, tests/churnops/serving, tests/churnops/schedules).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.paths import REPO

from churnops.app.cli import build_parser

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CHURNOPS = ".venv/bin/churnops"
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*(=[A-Z_.]+)?$|^[A-Z_]+=[A-Z_]+$|\.\.\.")
INLINE = re.compile(r"`((?:\.venv/bin/)?churnops [^`]+)`")


@dataclass(frozen=True)
class Shown:
    where: str  # file:line
    text: str  # as written (continuations joined, comment dropped)
    inline: bool = False

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)


def code_lines(path: Path):
    """(line number, text) of every line in a fenced or indented code block."""
    fenced, previous_blank = False, True
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or (line.startswith("    ") and previous_blank is not None and not line.lstrip().startswith(("-", "|"))):
            yield number, line.strip()
        previous_blank = not line.strip() or (previous_blank and line.startswith("    "))


def shown_commands() -> list[Shown]:
    found = []
    for path in DOCS:
        name = path.relative_to(REPO)
        pending, start = "", 0
        for number, line in code_lines(path):
            if pending:
                pending += " " + line
            elif line.startswith(("churnops ", f"{CHURNOPS} ", "make ", "$ make", "$ churnops")):
                pending, start = line.removeprefix("$ "), number
            else:
                continue
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip()
                continue
            found.append(Shown(f"{name}:{start}", pending))
            pending = ""
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in INLINE.finditer(line):
                found.append(Shown(f"{name}:{number}", match.group(1), inline=True))
    return found


COMMANDS = shown_commands()
CHURNOPS_LINES = [shown for shown in COMMANDS if not shown.inline and not shown.text.startswith("make ")]
MAKE_LINES = [shown for shown in COMMANDS if shown.text.startswith("make ")]


def is_synopsis(words: list[str]) -> bool:
    return any("[" in word or "]" in word or "|" in word or PLACEHOLDER.search(word) for word in words)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {name: sub for action in parser._actions if isinstance(action, argparse._SubParsersAction)  # noqa: SLF001
            for name, sub in action.choices.items()}


def check_synopsis(words: list[str]) -> list[str]:
    """What a synopsis names that does not exist: commands, then each flag against the command it follows."""
    problems, parsers = [], [build_parser()]
    for word in words:
        word = word.strip("[]()")
        if not word or word.endswith(":"):  # `churnops train: error:` is output, not a command
            break
        children = [subcommands(parser) for parser in parsers]
        if any(children) and not word.startswith("-"):
            alternatives = word.split("|")
            chosen = [child[alt] for child in children for alt in alternatives if alt in child]
            if len(chosen) < len(alternatives):
                problems.append(f"no command {word!r}")
                break
            parsers = chosen
            continue
        if word.startswith("--"):
            flag = word.split("=", 1)[0]
            for parser in parsers:
                if flag not in {option for action in parser._actions for option in action.option_strings}:  # noqa: SLF001
                    problems.append(f"{parser.prog} has no {flag}")
    return problems


def argv_of(shown: Shown) -> list[str]:
    words = shown.words
    return words[1:] if words[0] in ("churnops", CHURNOPS) else words


@pytest.mark.parametrize("shown", CHURNOPS_LINES, ids=lambda shown: shown.where)
def test_a_command_in_a_code_block_is_what_a_fresh_clone_runs(shown):
    assert shown.text.startswith(f"{CHURNOPS} "), (
        f"{shown.where}: `{shown.text}` - a fresh clone has no `churnops` on PATH: write {CHURNOPS}")


@pytest.mark.parametrize("shown", [shown for shown in COMMANDS if not shown.text.startswith("make ")],
                         ids=lambda shown: shown.where)
def test_a_shown_command_parses_or_names_only_what_exists(shown):
    argv = argv_of(shown)
    if shown.inline or is_synopsis(argv):
        assert check_synopsis(argv) == [], f"{shown.where}: {shown.text}"
        return
    try:
        build_parser().parse_args(argv)
    except SystemExit as exit_:
        pytest.fail(f"{shown.where}: `{shown.text}` does not parse (exit {exit_.code})")


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z][\w-]*):", (REPO / "Makefile").read_text(encoding="utf-8"), re.MULTILINE))


@pytest.mark.parametrize("shown", MAKE_LINES, ids=lambda shown: shown.where)
def test_a_shown_make_target_exists(shown):
    targets = [word for word in shown.words[1:] if not word.startswith("-") and "=" not in word]
    assert targets and set(targets) <= makefile_targets(), f"{shown.where}: {shown.text}"


def test_the_docs_show_the_commands_this_test_exists_for():
    """The extraction itself: a change of markdown style must not leave this test checking nothing."""
    texts = [shown.text for shown in COMMANDS]
    assert len(CHURNOPS_LINES) >= 20 and len(MAKE_LINES) >= 5
    for expected in ("models compare [--version N]", "models history [--version N]", "--check-drift"):
        assert any(expected in text for text in texts if text.startswith(CHURNOPS)), expected


def run(argv: list[str], home: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHURNOPS_HOME": str(home)}
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def help_paths() -> list[list[str]]:
    """Every (sub)command a doc shows, once: `--help` of each runs."""
    paths = set()
    for shown in COMMANDS:
        if shown.text.startswith("make "):
            continue
        path, parsers = [], [build_parser()]
        for word in argv_of(shown):
            children = subcommands(parsers[0])
            if word not in children:
                break
            path.append(word)
            parsers = [children[word]]
        paths.add(tuple(path))
    return sorted(list(path) for path in paths)


def test_the_help_of_every_shown_command_runs(tmp_path):
    for path in help_paths():
        result = run([sys.executable, "-m", "churnops", *path, "--help"], tmp_path)
        assert result.returncode == 0 and result.stdout.startswith("usage: churnops"), (path, result.stderr)


def test_the_cheap_commands_run_as_shown(tmp_path):
    """compile (as `make compile` calls it, into tmp) and `make help`."""
    out = tmp_path / "pipelines"
    result = run([sys.executable, "-m", "churnops", "compile", "--output-dir", str(out)], tmp_path)
    assert result.returncode == 0 and (out / "training.yaml").exists(), result.stderr
    assert "compile" in (REPO / "Makefile").read_text() and run(["make", "help"], tmp_path).returncode == 0


@pytest.mark.e2e
def test_the_shown_models_reading_commands_run_on_a_trained_store(trained_run):
    """`models list|show|history` as the docs show them (with their flags), on the session's trained store."""
    reading = {tuple(word for word in argv_of(shown) if not word.startswith("[") and word != "N]"): None
               for shown in CHURNOPS_LINES
               if argv_of(shown)[:2] in (["models", "list"], ["models", "show"], ["models", "history"])}
    assert reading
    for argv in reading:  # each distinct command once (README and docs/operations.md show the same ones)
        result = run([sys.executable, "-m", "churnops", *argv], trained_run["home"])
        assert result.returncode == 0, (argv, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and "Warning" not in result.stderr
