"""scripts/bootstrap.py: what `make run` and `make test` install, progress while they do, and the
caches outside the checkout keyed by what they hold."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from support.paths import REPO


@pytest.fixture
def bootstrap(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("bootstrap", REPO / "scripts" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("CHURNOPS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(module, "TOOLS", tmp_path / "checkout" / ".tools")
    return module


def dry_run(*targets: str) -> str:
    return subprocess.run(["make", "-n", "-B", *targets], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=True).stdout


def test_make_run_installs_the_runtime_set_only_and_make_test_adds_the_dev_extra():
    run = dry_run("run")
    assert "scripts/bootstrap.py venv\n" in run and "--extra dev" not in run
    test = dry_run("test")
    assert "scripts/bootstrap.py venv --extra dev" in test
    assert "scripts/bootstrap.py chromium" in test and "scripts/bootstrap.py tool-venv checkov" in test
    assert "scripts/bootstrap.py promtool" in test and "scripts/monitoring/validate.py" in test  # issue 27


def test_a_silent_command_gets_a_progress_line_with_what_and_how_far(bootstrap, monkeypatch, capsys):
    monkeypatch.setattr(bootstrap, "HEARTBEAT", 0.5)
    bootstrap.watch([sys.executable, "-c", "import time; print('first'); time.sleep(2.6); print('last')"],
                    "installing things", detail=lambda: "3 of ~9 packages")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "churnops setup:   first" and lines[-2] == "churnops setup:   last"
    beats = [line for line in lines if "... installing things:" in line]
    assert len(beats) >= 3 and all(line.endswith("s, 3 of ~9 packages") for line in beats), lines
    assert lines[-1].startswith("churnops setup:   installing things: done in ")


def test_a_failing_install_fails_with_its_output(bootstrap, capsys):
    with pytest.raises(SystemExit, match="broken install failed \\(exit 3\\)"):
        bootstrap.watch([sys.executable, "-c", "print('the reason'); raise SystemExit(3)"], "broken install")
    assert "the reason" in capsys.readouterr().err


def test_a_tool_venv_is_built_once_per_requirements_file_and_linked(bootstrap, tmp_path):
    requirements = tmp_path / "tool.txt"
    requirements.write_text("packaging==26.4\n")  # pinned by requirements/validate.txt: in uv's cache
    first = bootstrap.tool_venv("tool", requirements)
    assert first.parent == tmp_path / "cache" / "tools" and first.name.startswith("tool-")
    assert (bootstrap.TOOLS / "tool").resolve() == first.resolve()
    assert (first / "bin" / "python").exists() and (first / ".complete").read_text() in first.name
    built = (first / ".complete").stat().st_mtime_ns
    assert bootstrap.tool_venv("tool", requirements) == first  # a second clone: reused, not rebuilt
    assert (first / ".complete").stat().st_mtime_ns == built
    requirements.write_text("packaging==26.4\n# a changed pin file\n")
    second = bootstrap.tool_venv("tool", requirements)
    assert second != first and first.exists() and (bootstrap.TOOLS / "tool").resolve() == second.resolve()


def test_the_cache_is_outside_the_checkout_and_follows_xdg(bootstrap, monkeypatch, tmp_path):
    monkeypatch.delenv("CHURNOPS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bootstrap.cache_root() == tmp_path / "xdg" / "churnops"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert bootstrap.cache_root() == bootstrap.Path.home() / ".cache" / "churnops"
