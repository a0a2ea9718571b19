"""The marker that says a recurring run is ours, and the limit its description must fit.

KFP keeps a recurring run's description in a VARCHAR(255) column on its default MySQL store
(kubeflow/pipelines 2.17.0 backend/src/apiserver/client_manager/client_manager.go: InitDBClient
sets gorm's DefaultStringSize to 255; model/job.go Job.Description has no type of its own). A
longer insert fails with HTTP 500 after the ScheduledWorkflow was created, so `--check` refuses
a description that would not fit with the marker appended.
"""

from __future__ import annotations

import re

MAX_DESCRIPTION = 255  # characters KFP stores for a recurring run's / experiment's description
SPEC_LENGTH = 16
MARKER = re.compile(r"\[managed-by churnops-sync scope=(?P<scope>[A-Za-z0-9_.-]+) spec=(?P<spec>[0-9a-f]{16})\]\s*$")


def described(description: str, scope: str, spec: str) -> str:
    marker = f"[managed-by churnops-sync scope={scope} spec={spec}]"
    return f"{description.strip()}\n\n{marker}" if description.strip() else marker


def room_for_description(scope: str) -> int:
    """How many characters of description fit next to the marker of `scope`."""
    return MAX_DESCRIPTION - len(described("x", scope, "0" * SPEC_LENGTH)) + 1
