"""The script as the sync Job runs it: a file with main(argv), the same flags and exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.environments import ENVIRONMENTS
from support.paths import REPO


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_shipped_schedules_pass_check_without_contacting_kfp(env):
    done = subprocess.run([sys.executable, "scripts/sync_schedules.py", "--config", f"schedules/{env}.yaml", "--check"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert f"schedules/{env}.yaml: valid (scope {env})" in done.stdout


def test_prod_retrains_weekly_and_scores_daily_retraining_on_drift():
    from churnops.schedules.config import load_config

    runs = {run.name: run for run in load_config(REPO / "schedules" / "prod.yaml").recurring_runs}
    weekly, scoring = runs["churn-weekly-retrain"], runs["churn-daily-scoring"]
    assert weekly.cron.split()[3:] == ["*", "*", "MON"] and weekly.enabled
    assert scoring.pipeline == "churn-inference" and scoring.cron.split()[3:] == ["*", "*", "*"]
    assert scoring.parameters["output_uri"].startswith("gs://") and scoring.parameters["retrain_on_drift"] is True
    assert scoring.parameters["retrain_recurring_run"] == weekly.name  # the trigger runs what the schedule runs


def test_churnops_sync_takes_the_same_flags(tmp_path):
    from churnops.app.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("scope: x\nrecurring_runs: [{name: r, cron: '0 3 * * 1'}]\n", encoding="utf-8")

    assert main(["sync", "--config", str(bad), "--check"]) == 4
    assert main(["sync", "--config", str(REPO / "schedules" / "dev.yaml"), "--check"]) == 0
