"""Training fingerprints: the same data, parameters and code must not register a second version.

fingerprint = sha256 of (dataset content hash, every parameter that shapes the registered
version, code version). Registration stores it as the model-version tag `churnops.fingerprint`
(churnops.names.TAG_FINGERPRINT) in the same call that creates the version, so a version can
never exist without it. Pure: no MLflow here (churnops.registry.versions finds versions by it).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import churnops

# The code that decides what a training run produces: a change to any of these files changes the
# fingerprint (and retrains). Not the application (CLI, local runner, views, schedules sync) nor
# tests: editing a help text must not register a new version on the next scheduled run.
CODE_PATHS = (
    "churnops/core",
    "churnops/steps",
    "churnops/registry",
    "churnops/storage",
    "components",
    "pipelines",
)


@lru_cache(maxsize=1)
def code_version() -> str:
    """`<package version>+<hash of the sources in CODE_PATHS>`."""
    digest = hashlib.sha256()
    root = Path(churnops.__file__).resolve().parent.parent
    for folder in CODE_PATHS:
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return f"{churnops.__version__}+{digest.hexdigest()[:12]}"


def training_fingerprint(
    dataset_sha256: str,
    *,
    target_column: str,
    positive_label: str,
    test_size_ratio: float,
    random_state: int,
    model_type: str,
    hyperparameters: dict[str, Any],
    decision_threshold: float,
    code: str | None = None,
    search: dict[str, Any] | None = None,
) -> str:
    """A stable hash of everything that determines the registered version and its metrics.

    `positive_label` is the resolved label (what the load step reports), so "" and "Yes" on a
    Yes/No target give the same fingerprint. Numbers are normalised (1 and 1.0 are equal).
    """
    if not dataset_sha256:
        raise ValueError("dataset_sha256 is empty: the load step must report the dataset's content hash")
    payload = {
        "dataset_sha256": dataset_sha256,
        "target_column": target_column,
        "positive_label": positive_label,
        "test_size_ratio": float(test_size_ratio),
        "random_state": int(random_state),
        "model_type": model_type,
        "hyperparameters": _normalise(hyperparameters or {}),
        "decision_threshold": float(decision_threshold),
        "code_version": code or code_version(),
    }
    if search:  # candidate search: the space and the folds decide the model (absent otherwise)
        payload["search"] = _normalise(search)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {str(key): _normalise(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(item) for item in value]
    return str(value)
