"""No credential in any record (issue 25): a planted secret in the dataset URL and the input URL of a real local
training and scoring, then every file the runs wrote and every row of the MLflow store, searched for it.

The data is served over loopback HTTP by a server that demands the planted basic-auth user (401 otherwise)
and ignores the query, so the runs can only succeed if the credentials were used; `churnops train` and
`churnops predict --check-drift` run as real CLI processes. Before the fix the password was in the MLflow
param `dataset_uri`, the dataset source, the KFP executor output of the load step and the step log (KFP's
executor prints its input parameters). About 2-4 minutes on this shared machine (one training, one scoring).
"""

from __future__ import annotations

import base64
import functools
import http.server
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.paths import REPO

from churnops.errors import DatasetError, TrackingError
from churnops.registry import tracking
from churnops.storage import uris

pytestmark = pytest.mark.e2e

PASSWORD = "S3cretPlantPw"
TOKEN = "T0kenPlantSig"
USER = "churnuser"
# The MLflow store's tables that hold what a run records (params, tags, dataset sources, inputs, versions).
TABLES = ("params", "tags", "datasets", "inputs", "input_tags", "model_versions", "model_version_tags",
          "registered_model_tags", "runs", "experiment_tags", "metrics", "logged_model_params", "logged_model_tags")


class AuthHandler(http.server.SimpleHTTPRequestHandler):
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="data"')
            self.end_headers()
            return
        super().do_GET()

    def do_HEAD(self):  # noqa: N802
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.end_headers()
            return
        super().do_HEAD()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def data_url(tmp_path_factory, synthetic_csv):
    folder = tmp_path_factory.mktemp("served")
    (folder / "churn.csv").write_bytes(synthetic_csv.read_bytes())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(AuthHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{USER}:{PASSWORD}@127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def churnops(home: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {"CHURNOPS_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "churnops", *argv], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1500)


def files_holding(root: Path, secrets: tuple[str, ...]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {secret}" for secret in secrets if secret.encode() in data]
    return found


def rows_holding(database: Path, secrets: tuple[str, ...]) -> list[str]:
    found = []
    with sqlite3.connect(database) as connection:
        present = {name for (name,) in connection.execute("select name from sqlite_master where type = 'table'")}
        for table in TABLES:
            assert table in present, f"the MLflow store has no table {table} (tables: {sorted(present)})"
            for row in connection.execute(f"select * from {table}"):  # noqa: S608 (our own table names)
                found += [f"{table}: {row}" for secret in secrets if secret in repr(row)]
    return found


def test_a_run_with_credentials_in_its_urls_records_none_of_them(data_url, tmp_path):
    home = tmp_path / "home"
    trained = churnops(home, "train", "--dataset", f"{data_url}/churn.csv?token={TOKEN}",
                       "--model-type", "logistic_regression")
    assert trained.returncode == 0, trained.stderr[-3000:]
    output = tmp_path / "predictions.csv"
    scored = churnops(home, "predict", "--model-uri", "models:/churn-classifier@champion",
                      "--input", f"{data_url}/churn.csv?X-Amz-Signature={TOKEN}", "--output", str(output),
                      "--check-drift")
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert len(output.read_text().splitlines()) == 5001  # it did score: the credentials were used
    secrets = (PASSWORD, TOKEN)
    printed = [f"{name}: {secret}" for name, text in (("train stdout", trained.stdout), ("train stderr", trained.stderr),
                                                     ("predict stdout", scored.stdout), ("predict stderr", scored.stderr))
               for secret in secrets if secret in text]
    assert printed == []
    # Home: the MLflow store and artifacts, KFP's local outputs (executor outputs), the step logs.
    assert {path.name for path in home.iterdir()} >= {"mlflow", "local_outputs", "logs"}
    assert files_holding(home, secrets) == []
    assert files_holding(tmp_path, secrets) == []  # predictions, rejected rows, drift report
    assert rows_holding(home / "mlflow" / "mlflow.db", secrets) == []
    with sqlite3.connect(home / "mlflow" / "mlflow.db") as connection:  # what is recorded instead
        (recorded,) = connection.execute("select value from params where key = 'dataset_uri'").fetchone()
    assert recorded == f"http://127.0.0.1:{data_url.rsplit(':', 1)[1]}/churn.csv?token=REDACTED"


def test_a_tracking_uri_with_credentials_is_refused_at_once_without_printing_them(tmp_path):
    uri = f"http://admin:{PASSWORD}@127.0.0.1:1"  # nothing listens on port 1: a retry would take a minute
    started = time.monotonic()
    with pytest.raises(TrackingError) as refused:
        tracking.connect(uri)
    assert time.monotonic() - started < 2
    assert PASSWORD not in str(refused.value) and "MLFLOW_TRACKING_USERNAME" in str(refused.value)
    listed = churnops(tmp_path / "home", "models", "list", "--tracking-uri", uri)
    assert listed.returncode != 0 and "MLFLOW_TRACKING_USERNAME" in listed.stderr
    assert PASSWORD not in listed.stdout + listed.stderr and "retrying" not in listed.stderr


@pytest.mark.parametrize("uri", [f"s3://AKIAPLANT:{PASSWORD}@bucket/data.csv", f"gs://user:{PASSWORD}@bucket/data.csv"])
def test_an_object_store_uri_with_userinfo_is_refused_without_printing_it(uri):
    with pytest.raises(DatasetError) as refused:
        uris.read_remote(uri)
    assert PASSWORD not in str(refused.value) and "carries credentials" in str(refused.value)
