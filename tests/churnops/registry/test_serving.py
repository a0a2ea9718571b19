"""The registered model serves anywhere: plain mlflow.pyfunc, a Python without churnops, `mlflow models serve`.

A logistic regression is trained on the real Telco file and registered as champion in an
embedded store; raw Telco rows (pandas' own types: int64 tenure, " " in TotalCharges, the id
column present or not) are then scored by MLflow's own loaders and server, never by churnops code.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.metrics import roc_auc_score

from churnops import names
from churnops.app import cli
from churnops.core.data import split_dataset
from churnops.registry import models, tracking, versions
from churnops.registry.serving import OUTPUT_COLUMNS
from churnops.storage.datasets import read_dataset

MODEL = "churn-classifier"
THRESHOLD = 0.3  # not the default, so a model that ignores its logged threshold is caught
pytestmark = pytest.mark.telco
SERVE_DEADLINE = 120.0  # seconds for `mlflow models serve` to answer /ping


@pytest.fixture(scope="module")
def champion(tmp_path_factory, telco_csv):
    """A Telco model logged and registered the way train_model and register_model do it, as champion."""
    folder = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    tracking.connect(uri)
    split = split_dataset(read_dataset(str(telco_csv)), "Churn", 0.2)
    experiment = tracking.ensure_experiment(uri, "serving")
    _, logged = models.train_and_log(split.x_train, split.y_train, experiment_id=experiment,
                                     model_type="logistic_regression", hyperparameters={"C": 1.0},
                                     random_state=42, target="Churn", positive_label=split.positive_label,
                                     model_name=MODEL, decision_threshold=THRESHOLD)
    version = versions.register_version(logged.model_uri, MODEL, {})
    mlflow.MlflowClient().set_registered_model_alias(MODEL, names.ALIAS_CHAMPION, version.version)
    yield {"uri": uri, "folder": folder, "version": str(version.version), "run_id": logged.run_id}
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)


@pytest.fixture(scope="module")
def raw_rows(telco_csv) -> tuple[pd.DataFrame, np.ndarray]:
    """Telco as anyone reads it with pandas: int64 tenure/SeniorCitizen, object TotalCharges with blanks."""
    frame = pd.read_csv(telco_csv)
    assert frame["tenure"].dtype == np.int64 and (frame["TotalCharges"] == " ").any()
    labels = (frame.pop("Churn") == "Yes").astype(int).to_numpy()
    return frame, labels


def churnops_predict(champion, raw_csv: Path, out: Path) -> pd.DataFrame:
    code = cli.main(["predict", "--model-uri", f"models:/{MODEL}@champion", "--input", str(raw_csv),
                     "--output", str(out), "--tracking-uri", champion["uri"]])
    assert code == 0
    return pd.read_csv(out)


def test_plain_pyfunc_scores_raw_telco_rows_like_churnops_predict(champion, raw_rows, tmp_path, telco_csv):
    """Fails on main: the sklearn-flavour model's signature refuses int64 tenure and returns labels."""
    frame, labels = raw_rows
    mlflow.set_tracking_uri(champion["uri"])
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    scored = model.predict(frame)
    assert list(scored.columns) == list(OUTPUT_COLUMNS) and len(scored) == len(frame)
    assert set(scored["model_name"]) == {MODEL} and set(scored["model_version"]) == {champion["version"]}
    assert (scored["churn_predicted"] == (scored["churn_probability"] >= THRESHOLD).astype(int)).all()
    assert 0 < scored["churn_predicted"].mean() < 1

    without_id = model.predict(frame.drop(columns=["customerID"]))
    assert np.array_equal(without_id["churn_probability"].to_numpy(), scored["churn_probability"].to_numpy())

    predicted = churnops_predict(champion, telco_csv, tmp_path / "predictions.csv")
    assert predicted["customerID"].tolist() == frame["customerID"].tolist()
    assert np.abs(predicted["churn_probability"].to_numpy() - scored["churn_probability"].to_numpy()).max() <= 5e-7
    assert (predicted["churn_predicted"].to_numpy() == scored["churn_predicted"].to_numpy()).all()
    pyfunc_auc = roc_auc_score(labels, scored["churn_probability"])
    churnops_auc = roc_auc_score(labels, predicted["churn_probability"])
    assert abs(pyfunc_auc - churnops_auc) < 1e-6 and pyfunc_auc > 0.8


def test_a_value_that_is_not_a_number_is_named(champion, raw_rows):
    frame, _ = raw_rows
    bad = frame.head(3).astype(object)
    bad.loc[1, "MonthlyCharges"] = "n/a"
    mlflow.set_tracking_uri(champion["uri"])
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    with pytest.raises(MlflowException, match=r"row 1: MonthlyCharges='n/a'.*blank/null for a missing value"):
        model.predict(bad)


def test_the_model_ships_only_the_churnops_code_it_needs(champion):
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/{champion['version']}",
                                                     dst_path=str(champion["folder"] / "download")))
    shipped = sorted(str(path.relative_to(local / "code" / "churnops")) for path in (local / "code" / "churnops").rglob("*.py"))
    assert shipped == sorted(models.MODEL_CODE)


ISOLATED = """
import importlib.util, json, sys
sys.path[:0] = json.loads(sys.argv[1])  # site-packages only: no .pth, so no editable churnops finder
assert importlib.util.find_spec("churnops") is None, "churnops is importable before the model loads"
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[2])
import churnops
scored = model.predict(pd.read_csv(sys.argv[3]))
print(json.dumps({"churnops": churnops.__file__, "version": scored["model_version"].iloc[0],
                  "probability": scored["churn_probability"].tolist()}))
"""


def test_the_model_loads_where_churnops_is_not_installed(champion, raw_rows, tmp_path):
    frame, _ = raw_rows
    rows = frame.sample(300, random_state=0)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    site = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MLFLOW_TRACKING_URI": champion["uri"]}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", ISOLATED, json.dumps(site),
                           f"models:/{MODEL}@champion", str(tmp_path / "rows.csv")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "/code/churnops/" in result["churnops"], result["churnops"]  # the model's own copy
    assert result["version"] == champion["version"]
    mlflow.set_tracking_uri(champion["uri"])
    expected = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").predict(pd.read_csv(tmp_path / "rows.csv"))
    assert np.array_equal(np.asarray(result["probability"]), expected["churn_probability"].to_numpy())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.integration
def test_mlflow_models_serve_scores_raw_telco_rows_over_http(champion, raw_rows, tmp_path):
    frame, _ = raw_rows
    rows = frame.sample(500, random_state=1)
    port = _free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    # `mlflow models serve` execs uvicorn by name: this interpreter's bin first on PATH.
    env = {**os.environ, "MLFLOW_TRACKING_URI": champion["uri"],
           "PATH": f"{mlflow_cli.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([str(mlflow_cli), "models", "serve", "-m", f"models:/{MODEL}@champion",
                               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_DEADLINE
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"no /ping answer in {SERVE_DEADLINE}s"
            time.sleep(0.25)
        split = rows.to_dict(orient="split")
        payload = {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
        answer = _post(f"{base}/invocations", payload)
        served = pd.DataFrame(answer["predictions"])
        without_id = pd.DataFrame(_post(f"{base}/invocations", {"dataframe_split": {
            "columns": [c for c in split["columns"] if c != "customerID"],
            "data": [row[1:] for row in split["data"]]}})["predictions"])
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()
    assert list(served.columns) == list(OUTPUT_COLUMNS) and len(served) == len(rows)
    assert set(served["model_version"]) == {champion["version"]}
    mlflow.set_tracking_uri(champion["uri"])
    expected = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").predict(rows)
    assert np.array_equal(served["churn_probability"].to_numpy(), expected["churn_probability"].to_numpy())
    assert np.array_equal(served["churn_predicted"].to_numpy(), expected["churn_predicted"].to_numpy())
    assert np.array_equal(without_id["churn_probability"].to_numpy(), expected["churn_probability"].to_numpy())
