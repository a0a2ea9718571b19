"""Screenshots of the MLflow UI as a churnops user sees it: runs list, a run page, the champion's version page, the model page.

    .venv/bin/python scripts/ui_screenshots.py [--home DIR] [--out build/screenshots] [--assistant-default]

Trains one version into --home when it has none (`churnops train --param C=0.5` on the synthetic
data), starts `churnops mlflow ui` on a free 127.0.0.1 port, and drives Debian's headless
`chromium` (fresh profile per page, no network beyond 127.0.0.1) over the DevTools protocol on a
pipe to write a PNG and the rendered DOM of each page in a 1440x1000 viewport. The report says, for
each expected item, whether the page has it (`shows`) and whether it is visible without scrolling
(`above_fold`: inside the viewport, not clipped by a scroll box, not covered), and whether the
MLflow Assistant panel is open. Exit 1 when an item is missing or a REQUIRED_ABOVE_FOLD one is not
above the fold.

MLflow 3.17.2 opens its Assistant panel on the first visit of a local server (127.0.0.1,
localhost): its js bundle (server/js/build/static/js/main.*.js) has the floating button read the
localStorage key `mlflow.assistant.fab.autoOpenedOnFirstLoad` (version 1, stored as
`mlflow.assistant.fab.autoOpenedOnFirstLoad_v1`, JSON) and call openPanel() when it is not yet
true; the panel's own state is `mlflow.assistant.panelOpen_v1`. The fresh profile gets both set
(ASSISTANT_CLOSED) before the page runs, as a user who closed the panel once has them; pass
--assistant-default to see the first visit as it is.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
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
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--remote-debugging-pipe"]
WIDTH, HEIGHT = 1440, 1000  # "without scrolling" means within this viewport
RENDER_SECONDS = 60  # how long a page may take to show everything expected
ASSISTANT_CLOSED = {"mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true", "mlflow.assistant.panelOpen_v1": "false"}
ASSISTANT_PANEL_TEXT = "Ask questions about your experiments"  # the open panel's empty state
REQUIRED_ABOVE_FOLD = {"model-version": ("champion", "status"), "model": ("champion sentence",)}


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
        "model": f"{base}/#/models/{MODEL}?{view}",
        # where the version description's "Model card" link leads (churnops.registry.cards.link)
        "model-card": f"{base}/#/experiments/{experiment_id}/runs/{run_id}/artifactPath/card/model-card.html?{view}",
    }


def chromium_command(binary: str, profile: str) -> list[str]:
    return [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", "about:blank"]


# Evaluated in the page with the expected items: {label: {"text": ...} or {"selector": ...}}.
# An item is above the fold when one of its matches (the first line box of a text, or the
# element) keeps a visible area after clipping by every scrolling/hidden-overflow ancestor and
# the viewport, and elementFromPoint at that area's centre is the match itself (not an overlay).
FACTS_JS = """(expected) => {
  const W = innerWidth, H = innerHeight;
  const clip = (el, rect) => {
    let r = {top: rect.top, bottom: rect.bottom, left: rect.left, right: rect.right};
    for (let a = el.parentElement; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX !== 'visible' || s.overflowY !== 'visible') {
        const c = a.getBoundingClientRect();
        r = {top: Math.max(r.top, c.top), bottom: Math.min(r.bottom, c.bottom),
             left: Math.max(r.left, c.left), right: Math.min(r.right, c.right)};
      }
    }
    r = {top: Math.max(r.top, 0), bottom: Math.min(r.bottom, H), left: Math.max(r.left, 0), right: Math.min(r.right, W)};
    return r.bottom > r.top && r.right > r.left ? r : null;
  };
  const seen = (el, rect) => {
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || Number(s.opacity) === 0) return false;
    const r = clip(el, rect);
    if (!r) return false;
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    return !!hit && (hit === el || el.contains(hit) || hit.contains(el));
  };
  const matches = (spec) => {
    if (spec.selector) return [...document.querySelectorAll(spec.selector)].map(el => [el, el.getBoundingClientRect()]);
    const found = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.replace(/\u00a0/g, ' ').includes(spec.text)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const rects = range.getClientRects();
      if (rects.length && node.parentElement) found.push([node.parentElement, rects[0]]);
    }
    return found;
  };
  const out = {};
  for (const [label, spec] of Object.entries(expected)) {
    const found = document.body ? matches(spec) : [];
    out[label] = {found: found.length > 0, above_fold: found.some(([el, rect]) => seen(el, rect)),
                  top: found.length ? Math.round(found[0][1].top) : null};
  }
  return out;
}"""


class Chromium:
    """One headless chromium on a fresh profile, driven over the DevTools protocol on a pipe
    (--remote-debugging-pipe: chromium reads requests on fd 3 and answers on fd 4, each message a
    JSON text ended by a NUL byte)."""

    def __init__(self, binary: str, profile: str):
        requests_read, self._requests = os.pipe()
        self._answers, answers_write = os.pipe()

        def onto_fds_3_and_4():  # in the child: both ends above 9 first, so dup2 cannot clobber one
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (requests_read, answers_write)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        # close_fds=False: the pipes are non-inheritable (PEP 446) and close on exec; only the
        # dup2'd fds 3 and 4 reach chromium.
        self.process = subprocess.Popen(chromium_command(binary, profile), preexec_fn=onto_fds_3_and_4,
                                        close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(requests_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self.session = None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method: str, timeout: float = 60, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._requests, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._next_id:
                    if "error" in answer:
                        raise RuntimeError(f"chromium {method}: {answer['error']}")
                    return answer["result"]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise TimeoutError(f"chromium did not answer {method} in {timeout:.0f} s")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited (code {self.process.poll()}) during {method}")
            self._buffer += chunk

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        for fd in (self._requests, self._answers):
            os.close(fd)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def capture(binary: str, url: str, expected: dict[str, dict], png: Path, html: Path,
            local_storage: dict[str, str]) -> dict:
    """Open url in a fresh profile; once every expected item is in the page and the facts stop
    changing (or RENDER_SECONDS pass), write the screenshot and the DOM and return the facts."""
    items = {**expected, "assistant panel open": {"text": ASSISTANT_PANEL_TEXT}}
    with tempfile.TemporaryDirectory() as profile:
        browser = Chromium(binary, profile)
        try:
            browser.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1,
                         mobile=False)
            browser.call("Page.enable")
            if local_storage:  # before any script of the page: the app reads these on start
                preset = "".join(f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)});"
                                 for k, v in local_storage.items())
                browser.call("Page.addScriptToEvaluateOnNewDocument",
                             source=f"if (location.protocol === 'http:') {{ {preset} }}")
            browser.call("Page.navigate", url=url)
            check = f"({FACTS_JS})({json.dumps(items)})"
            deadline, facts, previous = time.monotonic() + RENDER_SECONDS, None, None
            while time.monotonic() < deadline:
                previous, facts = facts, browser.evaluate(check)
                if facts == previous and all(facts[label]["found"] for label in expected):
                    break
                time.sleep(0.5)  # poll interval of the condition above, not a wait for it
            png.write_bytes(base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"]))
            html.write_text(browser.evaluate("document.documentElement.outerHTML"), encoding="utf-8")
        finally:
            browser.close()
    return {"shows": {label: facts[label]["found"] for label in expected},
            "above_fold": {label: facts[label]["above_fold"] for label in expected},
            "top_px": {label: facts[label]["top"] for label in expected},
            "assistant_panel_open": facts["assistant panel open"]["found"]}


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
    parser.add_argument("--assistant-default", action="store_true",
                        help="do not preset the localStorage keys that keep MLflow's Assistant panel closed")
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
    dataset = run.data.tags.get(names.RUN_TAG_DATASET, "churn_synthetic").split("@")[0]
    expected = {
        "runs-list": {"run name": {"text": run.info.run_name}, "dataset": {"text": dataset}},
        "run-page": {"dataset": {"text": dataset},
                     "kfp run": {"text": run.data.tags.get(names.RUN_TAG_KFP_RUN_ID, "kfp.run_id")}},
        "model-version": {
            # the alias chip of the version header (MLflow renders it with the alias as its title)
            "champion": {"selector": f'[title="{names.ALIAS_CHAMPION}"][data-component-id*="aliastag"]'},
            # every alias move rewrites the description, the role first (churnops.core.narrative)
            "status": {"text": "CHAMPION since "},
            "description": {"text": f"v{version.version} trained on "},
            "status tag": {"selector": f'tr[data-row-key="{names.TAG_STATUS}"]'},
            # issue 27: the description links the version's model card (churnops.registry.cards.link)
            "card link": {"selector": f'a[href*="artifactPath/{names.CARD_HTML}"]'},
        },
        # the registered model's description opens with the current champion, also after a rollback
        "model": {"champion sentence": {"text": f"Champion: v{version.version} since "}},
        # the run's artifact view with the card selected: MLflow renders the HTML in a frame
        "model-card": {"card file": {"text": "model-card.html"}, "card frame": {"selector": "iframe"}},
    }
    local_storage = {} if args.assistant_default else ASSISTANT_CLOSED
    report = {}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/health", ui)
        for name, url in pages(base, run.info.experiment_id, run.info.run_id, str(version.version)).items():
            png, html = out / f"{name}.png", out / f"{name}.html"
            facts = capture(args.chromium, url, expected[name], png, html, local_storage)
            report[name] = {"url": url, "png": str(png), **facts}
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    print(json.dumps(report, indent=2, sort_keys=True))
    complete = all(all(page["shows"].values()) for page in report.values())
    visible = all(report[name]["above_fold"][label] for name, labels in REQUIRED_ABOVE_FOLD.items() for label in labels)
    return 0 if complete and visible else 1


if __name__ == "__main__":
    sys.exit(main())
