"""KFP artifacts for calling a component's `.python_func` directly, as the executor would hand them over."""

from pathlib import Path


def artifact(kind, tmp_path: Path, name: str, metadata: dict | None = None):
    """An artifact of `kind` (dsl.Dataset, dsl.Model, ...) whose files live under `tmp_path / name`."""
    return kind(name=name, uri=str(tmp_path / name), metadata=dict(metadata or {}))
