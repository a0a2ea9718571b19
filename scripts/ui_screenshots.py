"""Screenshots of the MLflow UI as a churnops user sees it: runs list, a run page, the model version page.

    .venv/bin/python scripts/ui_screenshots.py [--home DIR] [--out build/screenshots]

Trains one version into --home when it has none (`churnops train --param C=0.5` on the synthetic
data), starts `churnops mlflow ui` on a free 127.0.0.1 port, and drives Debian's headless
`chromium` (fresh profile, no network beyond 127.0.0.1) to write a PNG and the rendered DOM of each
page. `page_facts` says what each page shows (the test checks it); the script prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = "churn-classifier"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
WINDOW = "1440,1000"  # "without scrolling" means within this viewport
RENDER_MS = 20000  # virtual time for the single-page app to fetch and render


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pages(base: str, experiment_id: str, run_id: str, version: str) -> dict[str, str]:
    view = "workflowType=machine_learning"
    return {
        "runs-list": f"{base}/#/experiments/{experiment_id}/runs?{view}",
        "run-page": f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{view}",
        "model-version": f"{base}/#/models/{MODEL}/versions/{version}?{view}",
    }


def chromium_command(binary: str, profile: str, url: str, *, screenshot: str | None = None) -> list[str]:
    output = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    return [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW}",
            f"--virtual-time-budget={RENDER_MS}", *output, url]


def page_facts(dom: str, expected: dict[str, str]) -> dict[str, bool]:
    """Which of the expected strings the rendered page contains."""
    return {label: text in dom for label, text in expected.items()}


def ensure_trained(home: Path) -> None:
    if (home / "mlflow" / "mlflow.db").exists():
        return
    env = {**os.environ, "CHURNOPS_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "churnops", "train", "--param", "C=0.5"], cwd=REPO, env=env,
                   check=True, timeout=900)


def wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"mlflow ui exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer in {seconds:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / "build" / "ui-home")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)
    if shutil.which(args.chromium) is None:
        print(f"no chromium at {args.chromium!r}: apt-get install chromium, or pass --chromium PATH", file=sys.stderr)
        return 2
    home, out = args.home.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    ensure_trained(home)
    import mlflow

    from churnops import names
    from churnops.registry.tracking import embedded_tracking_uri

    uri = embedded_tracking_uri(home)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias(MODEL, names.ALIAS_CHAMPION)
    run = client.get_run(version.run_id)
    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "churnops", "mlflow", "ui", "--port", str(port)], cwd=REPO,
                          env={**os.environ, "CHURNOPS_HOME": str(home)}, start_new_session=True)
    expected = {
        "runs-list": {"run name": run.info.run_name, "dataset": "churn_synthetic"},
        "run-page": {"dataset": "churn_synthetic", "kfp run": run.data.tags.get(names.RUN_TAG_KFP_RUN_ID, "kfp.run_id")},
        "model-version": {"champion": names.ALIAS_CHAMPION, "status": names.STATUS_PASSED,
                          "description": "trained on churn_synthetic"},
    }
    report = {}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/health", ui)
        for name, url in pages(base, run.info.experiment_id, run.info.run_id, str(version.version)).items():
            with tempfile.TemporaryDirectory() as profile:
                png = out / f"{name}.png"
                subprocess.run(chromium_command(args.chromium, profile, url, screenshot=str(png)),
                               check=True, timeout=180, capture_output=True)
            with tempfile.TemporaryDirectory() as profile:
                dom = subprocess.run(chromium_command(args.chromium, profile, url), check=True, timeout=180,
                                     capture_output=True, text=True).stdout
            (out / f"{name}.html").write_text(dom, encoding="utf-8")
            report[name] = {"url": url, "png": str(png), "shows": page_facts(dom, expected[name])}
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0 if all(all(page["shows"].values()) for page in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
