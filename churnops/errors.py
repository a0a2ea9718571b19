"""Errors a user can act on. Each one names the problem and the fix in one paragraph.

`ConfigError` collects every `Problem` of a config file, so a user sees all of them at once
(file, entry, field, what is wrong and how to fix it) instead of one per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass


class ChurnopsError(Exception):
    """Base class: the CLI prints these as a one-paragraph error, without a traceback."""


class DatasetError(ChurnopsError):
    """The input data cannot be used (missing, empty, wrong target, too small...)."""


class TrackingError(ChurnopsError):
    """The MLflow tracking server or store cannot be reached or used."""


class RegistryError(ChurnopsError):
    """A model cannot be registered, found or moved in the MLflow Model Registry."""


@dataclass(frozen=True)
class Problem:
    file: str
    entry: str  # e.g. "recurring_runs[2] (churn-weekly)", or "" for the file itself
    field: str  # e.g. "cron", or "" for the whole entry
    message: str

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.entry, self.field) if part)
        return f"{where}: {self.message}"


class ConfigError(ChurnopsError):
    """A config file is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found:\n{lines}")


def entry_label(section: str, index: int, item: object) -> str:
    """`recurring_runs[2] (churn-weekly)`: the position and, when it has one, the name."""
    name = item.get("name") if isinstance(item, dict) else None
    return f"{section}[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")
