"""Shared fixtures: datasets, an isolated embedded MLflow store, one trained run per session, and the
services the run starts itself (tests/support/shared.py: PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from support.paths import SYNTHETIC_CSV, TELCO_CSV

# The run's shared folder and the services it starts (the `postgres` fixture): tests/support/shared.py.
pytest_plugins = ["support.shared"]


@pytest.fixture(scope="session")
def synthetic_csv() -> Path:
    return SYNTHETIC_CSV


@pytest.fixture(scope="session")
def telco_csv() -> Path:
    if not TELCO_CSV.exists():
        pytest.skip(f"the real Telco dataset is not at {TELCO_CSV} (it is not committed; see data/README.md)")
    return TELCO_CSV


@pytest.fixture
def churn_frame(synthetic_csv) -> pd.DataFrame:
    """600 rows of the synthetic dataset, read as text the way the pipeline reads it."""
    frame = pd.read_csv(synthetic_csv, dtype=str, keep_default_na=False, na_values=[""])
    return frame.head(600).copy()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An isolated CHURNOPS_HOME: the embedded store and local outputs of one test."""
    path = tmp_path / "churnops-home"
    monkeypatch.setenv("CHURNOPS_HOME", str(path))
    return path


@pytest.fixture
def tracking_uri(tmp_path) -> str:
    """An empty embedded (SQLite) MLflow store; the process-wide URI is restored afterwards."""
    from churnops.registry.tracking import connect, embedded_tracking_uri

    previous = mlflow.get_tracking_uri()
    uri = embedded_tracking_uri(tmp_path / "store")
    connect(uri)
    yield uri
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, synthetic_csv) -> dict:
    """One local training pipeline run on the synthetic data, shared by the end-to-end tests."""
    from churnops.app import runs

    home = tmp_path_factory.mktemp("trained-home")
    result = runs.train(str(synthetic_csv), home=home)
    result["home"] = home
    return result


def churn_dataset(shape: str, rows: int = 600, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """A generated churn dataset of another schema than Telco, and its target column.

    Shapes: many_categoricals (8 categories + 1 number, Yes/No), numeric_only (0/1 target),
    messy (True/False target, blanks in numbers and categories, an id column and a pandas row
    number), interaction (the signal is x1*x2: tree ensembles beat a linear model).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    noise = rng.normal(size=rows)
    if shape == "many_categoricals":
        frame = pd.DataFrame({f"cat{i}": rng.choice(list("abcd"), rows) for i in range(8)})
        frame["usage"] = rng.normal(size=rows).round(3)
        logit = 1.5 * (frame.cat0 == "a") + (frame.cat1 == "b") - (frame.cat2 == "c") + 0.8 * frame.usage - 1
        target, labels = "Churn", ("Yes", "No")
    elif shape == "numeric_only":
        frame = pd.DataFrame({f"x{i}": rng.normal(size=rows).round(3) for i in range(4)})
        logit = 1.2 * frame.x0 - frame.x1 + 0.5 * frame.x2
        target, labels = "label", ("1", "0")
    elif shape == "messy":
        frame = pd.DataFrame({
            "Unnamed: 0": np.arange(rows),
            "account_id": [f"ACC{i:06d}" for i in rng.permutation(rows)],
            "plan": rng.choice(["basic", "plus", "pro"], rows).astype(object),
            "monthly_spend": rng.gamma(2.0, 30.0, rows).round(2).astype(object),
            "support_calls": rng.poisson(2, rows),
        })
        logit = 0.6 * frame.support_calls - 0.02 * frame.monthly_spend.astype(float) + (frame.plan == "basic") - 0.5
        frame.loc[rng.random(rows) < 0.1, "plan"] = None
        frame.loc[rng.random(rows) < 0.1, "monthly_spend"] = " "
        target, labels = "churned", ("True", "False")
    elif shape == "interaction":
        frame = pd.DataFrame({"x1": rng.uniform(-1, 1, rows).round(3), "x2": rng.uniform(-1, 1, rows).round(3),
                              "segment": rng.choice(["a", "b"], rows)})
        logit = 6 * np.sign(frame.x1 * frame.x2)
        target, labels = "Churn", ("Yes", "No")
    else:
        raise ValueError(f"unknown shape {shape!r}")
    churned = rng.random(rows) < 1 / (1 + np.exp(-(logit + 0.3 * noise)))
    frame[target] = np.where(churned, labels[0], labels[1])
    return frame, target


@pytest.fixture(scope="session")
def make_churn_dataset():
    """churn_dataset(shape, rows) for tests that want the frame itself."""
    return churn_dataset


@pytest.fixture(scope="session")
def churn_dataset_csv(tmp_path_factory):
    """Write churn_dataset(shape) to a CSV; returns (path, target column)."""

    def write(shape: str, rows: int = 600) -> tuple[Path, str]:
        frame, target = churn_dataset(shape, rows)
        path = tmp_path_factory.mktemp(shape) / f"{shape}.csv"
        frame.to_csv(path, index=False)
        return path, target

    return write


def pytest_collection_modifyitems(config, items):
    """Under `pytest -n 2 --dist loadgroup` (make test) each module runs on one worker, so a module's
    fixtures are built once; a package whose fixture is package-scoped (tests/integration: the
    topology of three mlflow servers) is one group. A test's own xdist_group mark wins."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = Path(str(item.fspath))
        group = "tests/integration" if "integration" in path.parts and path.parent.name == "integration" else path
        item.add_marker(pytest.mark.xdist_group(str(group)))


@pytest.fixture
def event_sink(monkeypatch, tmp_path):
    """A loopback CloudEvents receiver as the only event sink (CHURNOPS_EVENT_SINKS) of one test;
    `.kinds()` flushes this process's deliveries and returns the kinds it got, sorted."""
    import json

    from support.receivers import Receiver

    from churnops import events

    sink = Receiver()
    monkeypatch.setenv(events.ENV_SINKS, sink.url)
    monkeypatch.setenv(events.ENV_DEAD_LETTER, str(tmp_path / "dead-letter.jsonl"))
    events.reset()

    def kinds() -> list[str]:
        events.flush(5)
        return sorted(json.loads(r["body"])["type"].removeprefix("io.churnops.") for r in sink.received)

    sink.kinds = kinds
    yield sink
    events.flush(5)
    events.reset()
    sink.close()
