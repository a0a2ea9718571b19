"""`churnops compile` gives the same bytes in every process, whatever the hash seed or cwd.

Issue 12, problem 1: KFP's header comment printed the `search_space` default with dict keys in
hash order, so two processes wrote different training.yaml files. One process compiling twice
cannot see that; these tests start a new interpreter per compile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.paths import REPO

from churnops.app.compile import canonical_header, spec_digest
from pipelines import PIPELINES

SEEDS = ("0", "1", "2", "3")


def compile_in_new_process(output: Path, seed: str, cwd: Path) -> dict[str, bytes]:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "churnops", "compile", "--output-dir", str(output)],
                   cwd=cwd, env=env, check=True, capture_output=True)
    return {path.name: path.read_bytes() for path in sorted(output.iterdir())}


def test_compile_is_byte_identical_across_processes(tmp_path):
    outputs = [compile_in_new_process(tmp_path / f"out{seed}", seed, tmp_path / f"cwd{seed}" / "deeper")
               for seed in SEEDS]
    assert sorted(outputs[0]) == sorted(f"{name}.yaml" for name in PIPELINES)
    for seed, output in zip(SEEDS[1:], outputs[1:], strict=True):
        for name, data in output.items():
            assert data == outputs[0][name], f"{name} differs between PYTHONHASHSEED=0 and ={seed}"


def test_header_defaults_are_printed_with_sorted_keys():
    text = "# PIPELINE DEFINITION\n#    space: list [Default: [{'b': 1.0, 'a': {'d': 2, 'c': 3}}]]\nroot: {}\n"
    assert canonical_header(text) == \
        "# PIPELINE DEFINITION\n#    space: list [Default: [{'a': {'c': 3, 'd': 2}, 'b': 1.0}]]\nroot: {}\n"


def test_spec_digest_ignores_comments_but_not_the_spec(tmp_path):
    one, two, three = tmp_path / "1.yaml", tmp_path / "2.yaml", tmp_path / "3.yaml"
    one.write_text("# header A\nroot: {x: 1}\n")
    two.write_text("# header B\nroot:\n  x: 1\n")
    three.write_text("# header A\nroot: {x: 2}\n")
    assert spec_digest(one) == spec_digest(two)
    assert spec_digest(one) != spec_digest(three)
