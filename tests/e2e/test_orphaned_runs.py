"""Issue 16, Why 2: runs left RUNNING forever after a failed search or a killed step.

A failed local training marks the MLflow runs it opened FAILED before the error reaches the user;
a run whose owner process died (killed: no handler ran) is marked FAILED by the next training.
"""

from __future__ import annotations

import subprocess
import sys

import mlflow
import pandas as pd
import pytest

from churnops.app import runs
from churnops.errors import ChurnopsError
from churnops.registry.tracking import embedded_tracking_uri

pytestmark = pytest.mark.e2e

KILLED_OWNER = """
import os, sys, mlflow, socket
mlflow.set_tracking_uri(sys.argv[1])
experiment = mlflow.get_experiment_by_name("churn").experiment_id
run = mlflow.MlflowClient().create_run(experiment, tags={"churnops.step": "train",
    "churnops.owner": f"{socket.gethostname()}:{os.getpid()}"})
print(run.info.run_id)
os._exit(137)  # killed mid-step: nothing ends the run
"""


def running(uri: str) -> list[str]:
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("churn")
    found = client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'") if experiment else []
    return [run.info.run_id for run in found]


def test_failed_and_killed_runs_end_failed(tmp_path):
    home = tmp_path / "home"
    uri = embedded_tracking_uri(home)
    constant = tmp_path / "constant.csv"
    pd.DataFrame({"plan": ["a"] * 10, "usage": [1.0] * 10, "Churn": ["Yes", "No"] * 5}).to_csv(constant, index=False)
    with pytest.raises(ChurnopsError):
        runs.train(str(constant), home=home)
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("churn")
    assert experiment is not None, "the failed search opened no run: the case does not exercise the sweep"
    assert running(uri) == []
    ended = client.search_runs([experiment.experiment_id], "attributes.status = 'FAILED'")
    assert ended, "no run was marked FAILED"

    killed = subprocess.run([sys.executable, "-c", KILLED_OWNER, uri], capture_output=True, text=True, timeout=120)
    orphan = killed.stdout.strip().splitlines()[-1]
    assert running(uri) == [orphan]
    with pytest.raises(ChurnopsError):
        runs.train(str(constant), home=home)  # any next run sweeps first
    assert client.get_run(orphan).info.status == "FAILED"
    assert "is gone" in client.get_run(orphan).data.tags["churnops.swept"]
    assert running(uri) == []
