"""Models registered before the regrouping keep loading and scoring with today's code.

The old code is the last commit before the regrouping, taken from git (not a hand-made pickle):
it trains and registers a model in a fresh process, exactly as churnops 0.1.0 did, and today's
batch inference scores with it. Its pickle names `churnops.features.NumericCoercer`.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import mlflow
import pandas as pd
import pytest
from support.paths import REPO, SYNTHETIC_CSV

from churnops.registry.loading import resolve
from churnops.steps.batch_predict import predict_file

BEFORE_REGROUPING = "70d64fe"  # main before "Regroup churnops into layers that only point down"

OLD_TRAIN = """
import sys
from churnops import data, registry, tracking, training
uri, dataset = sys.argv[1], sys.argv[2]
tracking.connect(uri)
experiment = tracking.ensure_experiment(uri, "compat")
split = data.split_dataset(data.read_dataset(dataset).head(600), "Churn", 0.2)
_, logged = training.train_and_log(split.x_train, split.y_train, experiment_id=experiment,
    model_type="logistic_regression", hyperparameters={"C": 1.0}, random_state=42, target="Churn",
    positive_label=split.positive_label)
print(registry.register_version(logged.model_uri, "compat-model", {}).version)
"""


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory):
    found = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{BEFORE_REGROUPING}^{{commit}}"],
                           capture_output=True)
    if found.returncode != 0:
        pytest.skip(f"commit {BEFORE_REGROUPING} (the code before the regrouping) is not in this clone's history")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BEFORE_REGROUPING, "churnops"],
                             capture_output=True, check=True).stdout
    tree = tmp_path_factory.mktemp("churnops-before-regrouping")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def test_a_model_registered_by_the_old_layout_scores_with_todays_code(old_tree, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trained = subprocess.run([sys.executable, "-c", OLD_TRAIN, uri, str(SYNTHETIC_CSV)], cwd=tmp_path,
                             env={"PYTHONPATH": str(old_tree), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                             capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert trained.stdout.strip().splitlines()[-1] == "1"

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    pickles = list(tmp_path.rglob("model.pkl"))
    assert pickles and all(b"churnops.features" in path.read_bytes() for path in pickles)  # the old module path
    rows = pd.read_csv(SYNTHETIC_CSV, dtype=str, nrows=200).drop(columns=["Churn"])
    rows.to_csv(tmp_path / "in.csv", index=False)
    summary = predict_file(resolve("models:/compat-model/1", client), str(tmp_path / "in.csv"),
                           str(tmp_path / "out.csv"), str(tmp_path / "rejected.csv"), tracking_uri=uri)
    assert (summary["rows"], summary["rejected"], summary["model_version"]) == (200, 0, "1")
    scored = pd.read_csv(tmp_path / "out.csv")
    assert scored["churn_probability"].between(0, 1).all() and scored["customerID"].is_unique
    # The gate and evaluation load it the same way (sklearn flavour; new versions are pyfuncs).
    from churnops.steps.promote_model import probabilities

    assert (probabilities("models:/compat-model/1", rows).round(6) == scored["churn_probability"].to_numpy()).all()
