"""Compile the pipelines to KFP YAML, deterministically (same code -> same bytes, in any process).

KFP writes a header comment listing each input with `str()` of its default
(kfp/compiler/pipeline_spec_builder.py: extract_comments_from_pipeline_spec, kfp 2.17.3). A
dict default comes back from a protobuf Struct whose key order varies with PYTHONHASHSEED,
so the header of training.yaml (the `search_space` default) differed from one process to
the next. `compile_pipeline` rewrites those defaults with sorted keys; the YAML body is
already stable. `spec_digest` names a compiled pipeline by its spec, never by its comments.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from kfp import compiler

import components
from churnops.app.platform_config import load_platform_config
from pipelines import PIPELINES
from pipelines.platform import no_platform, with_platform

# `#    <name>: <type> [Default: <python literal>]`, as extract_comments_from_pipeline_spec writes it.
_DEFAULT_LINE = re.compile(r"^(?P<head>#    [^:\n]+: \w+ \[Default: )(?P<value>.*)\]$")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def canonical_header(text: str) -> str:
    """The same YAML with every dict in a header default printed in sorted key order."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if not line.startswith("#"):
            break  # the header is the leading comment block
        match = _DEFAULT_LINE.match(line)
        if match is None:
            continue
        try:
            value = ast.literal_eval(match.group("value"))
        except (ValueError, SyntaxError):
            continue  # a string default: printed as is, already stable
        lines[index] = f"{match.group('head')}{_sorted(value)!r}]"
    return "\n".join(lines)


def spec_digest(path: Path) -> str:
    """sha256 of the compiled pipeline's documents (comments and key order do not count)."""
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    text = json.dumps(documents, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compile_pipeline(pipeline, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(path))
    path.write_text(canonical_header(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def compile_all(output_dir: Path, platform: Path | None = None) -> list[Path]:
    """Every pipeline; with `platform` (config/platform/<env>.yaml), its settings on every task.
    Without one, every task still has caching off (pipelines.platform.CACHING_DEFAULT), as on every
    compile path: a pipeline compiled here and uploaded by hand must not reuse last week's split."""
    settings_for = load_platform_config(platform, components.__all__).for_step if platform is not None else no_platform
    pipelines = {name: with_platform(pipeline, settings_for) for name, pipeline in PIPELINES.items()}
    return [compile_pipeline(pipeline, output_dir / f"{name}.yaml") for name, pipeline in pipelines.items()]
