"""Compile the pipelines a schedules file names, deterministically, and name each by its content.

Same code + same platform config -> same spec -> same version name (in any process), so a sync uploads a
pipeline version only when what would run on the cluster changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import components
from churnops.app.compile import compile_pipeline, spec_digest
from churnops.app.platform_config import load_platform_config
from churnops.schedules.config import SchedulesConfig
from pipelines import PIPELINES
from pipelines.platform import no_platform, with_platform

VERSION_PREFIX = "sha256-"


@dataclass(frozen=True)
class CompiledPipeline:
    name: str  # KFP pipeline display name
    path: Path
    digest: str  # sha256 of the compiled pipeline spec (churnops.app.compile.spec_digest; not comments)

    @property
    def version_name(self) -> str:
        return version_name(self.digest)


def version_name(digest: str) -> str:
    return VERSION_PREFIX + digest[:16]


def compile_declared(config: SchedulesConfig, output_dir: Path,
                     pipelines: Mapping[str, Any] | None = None) -> dict[str, CompiledPipeline]:
    """Compile every declared pipeline with the file's platform config (without one: only the
    defaults, caching off); key by pipeline name."""
    if pipelines is None:
        pipelines = PIPELINES
    platform = load_platform_config(config.platform, components.__all__) if config.platform else None
    compiled = {}
    for declared in config.pipelines:
        pipeline = with_platform(pipelines[declared.function], platform.for_step if platform else no_platform)
        path = compile_pipeline(pipeline, output_dir / f"{declared.name}.yaml")
        digest = spec_digest(path)
        compiled[declared.name] = CompiledPipeline(declared.name, path, digest)
    return compiled
