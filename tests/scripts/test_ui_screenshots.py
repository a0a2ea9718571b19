"""scripts/ui_screenshots.py against a real `churnops mlflow ui` and Debian's headless chromium."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
from support.paths import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def load_script():
    spec = importlib.util.spec_from_file_location("ui_screenshots", REPO / "scripts" / "ui_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chromium_runs_headless_with_a_fresh_profile_and_no_background_traffic():
    script = load_script()
    command = script.chromium_command("chromium", "/tmp/p", "http://127.0.0.1:1/#/x", screenshot="/tmp/x.png")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=/tmp/p"):
        assert flag in command
    assert all(url.startswith("http://127.0.0.1:") for url in script.pages("http://127.0.0.1:9", "1", "r", "2").values())


def test_the_pages_show_dataset_kfp_run_champion_and_status(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    script = load_script()
    assert script.main(["--home", str(tmp_path / "home"), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert set(report) == {"runs-list", "run-page", "model-version"}
    for page in report.values():
        assert all(page["shows"].values()), page
        assert open(page["png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
