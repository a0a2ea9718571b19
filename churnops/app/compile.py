"""Compile the pipelines to KFP YAML, deterministically (same code -> same bytes)."""

from __future__ import annotations

from pathlib import Path

from kfp import compiler

import components
from churnops.app.platform_config import load_platform_config
from pipelines import PIPELINES
from pipelines.platform import with_platform


def compile_pipeline(pipeline, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(path))
    return path


def compile_all(output_dir: Path, platform: Path | None = None) -> list[Path]:
    """Every pipeline; with `platform` (config/platform/<env>.yaml), its settings on every task."""
    if platform is not None:
        config = load_platform_config(platform, components.__all__)
        pipelines = {name: with_platform(pipeline, config.for_step) for name, pipeline in PIPELINES.items()}
    else:
        pipelines = dict(PIPELINES)
    return [compile_pipeline(pipeline, output_dir / f"{name}.yaml") for name, pipeline in pipelines.items()]
