"""The pins of scripts/cluster/versions.toml and where their builds live (stdlib only)."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = Path(__file__).with_name("versions.toml")
STATE_ENV = "CHURNOPS_CLUSTER_STATE"  # another folder than .churnops/cluster (the tests keep theirs apart)


def state() -> Path:
    """The folder of the interface (kubeconfig, env) and of the run's pid/log files: read when called."""
    return Path(os.environ.get(STATE_ENV) or ROOT / ".churnops" / "cluster")


def cache_root(environ: os._Environ | dict = os.environ) -> Path:
    """The same cache as scripts/bootstrap.py ($CHURNOPS_CACHE, $XDG_CACHE_HOME/churnops, ~/.cache/churnops)."""
    if environ.get("CHURNOPS_CACHE"):
        return Path(environ["CHURNOPS_CACHE"])
    base = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "churnops"


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    version: str
    binaries: dict[str, str]
    local_replace_version: str = ""
    toolchain: bool = False
    version_ldflags: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """What the cache entry was built from: the component's own pins and the Go toolchain it needs."""
        entry = {**self.__dict__, "go": toolchain() if self.toolchain else "local"}
        return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def home(self) -> Path:
        return cache_root() / "cluster" / f"{self.name}-{self.version}"

    def binary(self, name: str) -> Path:
        return self.home / "bin" / name


def load(path: Path = VERSIONS) -> dict:
    return tomllib.loads(path.read_text())


def components(path: Path = VERSIONS) -> dict[str, Component]:
    return {name: Component(name=name, **spec) for name, spec in load(path)["components"].items()}


def toolchain(path: Path = VERSIONS) -> str:
    return load(path)["go"]["toolchain"]


def binary(component: str, name: str | None = None) -> Path:
    return components()[component].binary(name or next(iter(components()[component].binaries)))


def crd_modules(path: Path = VERSIONS) -> dict[str, dict]:
    """Modules that only CRDs are taken from (downloaded, not built)."""
    return load(path).get("crds", {})


def module_dir(module: str, version: str) -> Path:
    return cache_root() / "go" / "mod" / f"{module}@{version}"
