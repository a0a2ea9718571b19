"""Compile the pipelines to KFP YAML, deterministically (same code -> same bytes)."""

from __future__ import annotations

from pathlib import Path

from kfp import compiler


def compile_pipeline(pipeline, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(path))
    return path


def compile_all(output_dir: Path) -> list[Path]:
    from pipelines import PIPELINES

    return [compile_pipeline(pipeline, output_dir / f"{name}.yaml") for name, pipeline in PIPELINES.items()]
