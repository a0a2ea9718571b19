"""Fixtures for the schedules sync: a local KFP API server and a `sync` runner over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.kfp_server import FakeKfpServer
from support.paths import REPO

from churnops.schedules.cli import build_parser, run
from churnops.schedules.kfp_api import RetryPolicy

PLATFORM_PROD = REPO / "config" / "platform" / "prod.yaml"
NO_SLEEP = RetryPolicy(attempts=4, first_delay=0.0, sleep=lambda seconds: None)


@dataclass
class SyncResult:
    code: int
    out: str
    err: str


@pytest.fixture
def kfp_server():
    """A fresh local KFP v2beta1 API server, driven by the real kfp.Client over HTTP."""
    with FakeKfpServer() as server:
        yield server


def make_doc(**overrides: Any) -> dict:
    doc = {
        "scope": "test",
        "platform": str(PLATFORM_PROD),
        "defaults": {"experiment": "churn-test", "service_account": "churnops-pipeline-runner"},
        "experiments": [{"name": "churn-test", "description": "test runs"}],
        "pipelines": [{"name": "churn-training", "function": "training", "description": "train"}],
        "recurring_runs": [
            {"name": "weekly", "pipeline": "churn-training", "cron": "0 0 3 * * MON",
             "parameters": {"dataset_uri": "s3://bucket/weekly.csv"}},
            {"name": "daily", "pipeline": "churn-training", "interval_seconds": 86400,
             "parameters": {"model_type": "random_forest", "hyperparameters": {"n_estimators": 50}}},
        ],
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def schedules_doc():
    """A factory of valid schedules documents (a weekly cron and a daily interval run)."""
    return make_doc


@pytest.fixture
def write_schedules(tmp_path):
    def write(doc: Any, name: str = "schedules.yaml") -> Path:
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def sync(kfp_server, capsys):
    """Run the sync CLI in-process against the local server: sync(path, "--prune", ...) -> SyncResult."""

    def _sync(config: Path, *flags: str, pipelines=None) -> SyncResult:
        args = build_parser().parse_args(["--config", str(config), "--host", kfp_server.url, *flags])
        capsys.readouterr()
        code = run(args, pipelines=pipelines, retry=NO_SLEEP, clock=kfp_server.clock)
        captured = capsys.readouterr()
        return SyncResult(code, captured.out, captured.err)

    return _sync


@pytest.fixture
def runs_by_name(kfp_server):
    """The server's recurring runs grouped by display name."""

    def _runs() -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for run_ in kfp_server.state.recurring_runs.values():
            found.setdefault(run_["display_name"], []).append(run_)
        return found

    return _runs
