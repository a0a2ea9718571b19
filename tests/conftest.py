"""Shared fixtures: datasets, an isolated embedded MLflow store, and one trained run per session."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC_CSV = REPO / "data" / "churn_synthetic.csv"
TELCO_CSV = REPO.parent / "shared" / "data" / "telco_customer_churn.csv"


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
    from churnops.tracking import connect, embedded_tracking_uri

    previous = mlflow.get_tracking_uri()
    uri = embedded_tracking_uri(tmp_path / "store")
    connect(uri)
    yield uri
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, synthetic_csv) -> dict:
    """One local training pipeline run on the synthetic data, shared by the end-to-end tests."""
    from churnops import runs

    home = tmp_path_factory.mktemp("trained-home")
    result = runs.train(str(synthetic_csv), home=home)
    result["home"] = home
    return result
