"""A logged model carries its compiled form, and every loader scores with the same form (or says it cannot).

Embedded store, the synthetic data, a small forest: logged as train_model logs it, registered, then
scored by the pyfunc, by load_scorer (what `churnops serve` and batch steps use) and by batch
scoring's predict_file. Then a model whose compiled form fails the parity gate (a converter broken
on purpose) is logged without it and scored by scikit-learn. ~30 s.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from churnops import names
from churnops.core import conversion
from churnops.core.data import split_dataset
from churnops.core.fitting import typed_features
from churnops.registry import loading, models, tracking, versions
from churnops.registry.serving import COMPILED_ARTIFACT
from churnops.steps.batch_predict import predict_file
from churnops.storage.datasets import read_dataset

FOREST = {"n_estimators": 25, "min_samples_leaf": 5}


@pytest.fixture(autouse=True)
def restore_tracking_uri():
    previous = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)


@pytest.fixture(scope="module")
def split(synthetic_csv):
    return split_dataset(read_dataset(str(synthetic_csv)).head(2500), "Churn", 0.3)


def log_and_register(split, uri: str, name: str):
    tracking.connect(uri)
    experiment = tracking.ensure_experiment(uri, "compiled")
    fitted, logged = models.train_and_log(split.x_train, split.y_train, experiment_id=experiment,
                                          model_type="random_forest", hyperparameters=FOREST, random_state=42,
                                          target="Churn", positive_label="Yes", model_name=name, holdout=split.x_test)
    version = versions.register_version(logged.model_uri, name, {})
    return fitted, f"models:/{name}/{version.version}", version


def scored_by_every_loader(model_uri: str, uri: str, rows: pd.DataFrame, folder: Path) -> dict[str, np.ndarray]:
    """P(churn) of the same raw rows from the pyfunc, load_scorer and batch scoring (a file, chunked)."""
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    scorer = loading.load_scorer(model_uri)
    rows.to_csv(folder / "rows.csv", index=False)
    resolved = loading.resolve(model_uri, mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri))
    predict_file(resolved, str(folder / "rows.csv"), str(folder / "out.csv"), str(folder / "rejected.csv"),
                 tracking_uri=uri, chunk_rows=97)
    typed = typed_features(rows, scorer_spec(scorer))
    # As churnops serve hands them over (serving.predictor.check_rows): arrays of numbers, lists of text or None.
    columns = {**{name: typed[name].to_numpy() for name in scorer.numeric},
               **{name: typed[name].tolist() for name in scorer.categorical}}
    by_columns = scorer.churn_probability(columns)
    assert np.array_equal(by_columns, scorer.churn_probability(typed))
    return {
        "pyfunc": pyfunc.predict(rows)["churn_probability"].to_numpy(),
        "scorer": by_columns,
        "batch": pd.read_csv(folder / "out.csv")["churn_probability"].to_numpy(),
        "form": scorer.form,
        "pyfunc_form": pyfunc.unwrap_python_model().form,
    }


def scorer_spec(scorer):
    from churnops.core.features import FeatureSpec

    return FeatureSpec(scorer.numeric, scorer.categorical)


def test_a_logged_model_carries_its_compiled_form_and_every_loader_scores_with_it(split, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    fitted, model_uri, version = log_and_register(split, uri, "compiled-forest")
    info = mlflow.models.get_model_info(model_uri)
    record = info.metadata["compiled"]
    assert record["form"] == "onnx" and record["passed"] and record["parity_rows"] == "holdout", record
    assert record["holdout_rows"] == len(split.x_test) and record["tolerance"] == conversion.PARITY_TOLERANCE
    assert {"onnx", "onnxruntime", "opset", "ml_opset"} <= set(record)
    assert version.tags[names.TAG_SERVING_FORM] == "onnx"
    assert mlflow.get_run(version.run_id).data.tags[names.RUN_TAG_SERVING_FORM] == "onnx"
    local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(tmp_path / "download")))
    assert (local / "artifacts" / "model.onnx").is_file()

    rows = split.x_test.head(300)
    scored = scored_by_every_loader(model_uri, uri, rows, tmp_path)
    assert scored["form"] == scored["pyfunc_form"] == "onnx"
    assert np.array_equal(scored["pyfunc"], scored["scorer"])  # the same form: equal, not close
    assert np.array_equal(scored["batch"], np.round(scored["scorer"], 6))
    # The forest's compiled form is the pipeline's answer to the bit.
    assert np.array_equal(scored["scorer"], fitted.pipeline.predict_proba(typed_features(rows, fitted.spec))[:, 1])


def test_a_model_whose_compiled_form_fails_the_gate_is_logged_without_it_and_says_so(split, tmp_path, monkeypatch,
                                                                                       caplog):
    def blanks_as_zero(graph, imputer, value):  # broken on purpose: blank numbers become 0, not the median
        zeros = np.zeros((1, len(imputer.statistics_)))
        return graph.node("Where", [graph.node("IsNaN", [value]), graph.constant("zeros", zeros), value])

    table = {kind: (blanks_as_zero if kind.__name__ == "SimpleImputer" else converter)
             for kind, converter in conversion.converters().items()}
    monkeypatch.setattr(conversion, "converters", lambda: table)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with caplog.at_level(logging.WARNING, logger="churnops.registry"):
        fitted, model_uri, version = log_and_register(split, uri, "sklearn-forest")
    record = mlflow.models.get_model_info(model_uri).metadata["compiled"]
    assert record["form"] == "sklearn" and not record["passed"]
    assert "on the edge rows" in record["reason"], record
    assert f"served by scikit-learn: {record['reason']}" in caplog.text
    assert version.tags[names.TAG_SERVING_FORM] == "sklearn"
    local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(tmp_path / "download")))
    assert not (local / "artifacts").exists() and COMPILED_ARTIFACT not in (local / "MLmodel").read_text()

    rows = split.x_test.head(200)
    scored = scored_by_every_loader(model_uri, uri, rows, tmp_path)
    assert scored["form"] == scored["pyfunc_form"] == "sklearn"
    expected = fitted.pipeline.predict_proba(typed_features(rows, fitted.spec))[:, 1]
    assert np.array_equal(scored["pyfunc"], expected) and np.array_equal(scored["scorer"], expected)
    assert np.array_equal(scored["batch"], np.round(expected, 6))
