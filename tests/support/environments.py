"""The deployment environments, read from the repository: every directory under k8s/overlays/
with a kustomization.yaml. Tests parametrize over ENVIRONMENTS instead of typing ("dev", "prod"),
so a new environment is tested as soon as its overlay exists."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "k8s" / "overlays"


def environments(overlays: Path = OVERLAYS) -> tuple[str, ...]:
    return tuple(sorted(p.parent.name for p in overlays.glob("*/kustomization.yaml")))


ENVIRONMENTS: tuple[str, ...] = environments()


# What every environment needs besides its overlay (docs/architecture.md, "a new environment").
PIECES = (
    "k8s/overlays/{env}/kustomization.yaml",
    "k8s/overlays/{env}/schedules-sync/kustomization.yaml",
    "k8s/argocd/values/{env}.yaml",
    "schedules/{env}.yaml",
    "config/platform/{env}.yaml",
)


def missing_pieces(env: str, root: Path = ROOT) -> list[str]:
    """The files an environment lacks, as repository paths (empty: it is complete)."""
    return [piece.format(env=env) for piece in PIECES if not (root / piece.format(env=env)).is_file()]
