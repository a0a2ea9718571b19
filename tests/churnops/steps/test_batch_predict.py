"""Batch inference on the session's trained model: URI resolution, streaming, bad input handling."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from churnops.core.features import FeatureSpec
from churnops.core.scoring import split_rejects
from churnops.errors import DatasetError, RegistryError
from churnops.registry.loading import ResolvedModel, resolve
from churnops.steps.batch_predict import predict_file


@pytest.fixture(scope="module")
def client(trained_run):
    uri = trained_run["tracking_uri"]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def version_one(trained_run, client) -> ResolvedModel:
    return resolve(f"models:/churn-classifier/{trained_run['model_version']}", client)


@pytest.fixture
def rows(synthetic_csv) -> pd.DataFrame:
    return pd.read_csv(synthetic_csv, dtype=str, keep_default_na=False, nrows=60).drop(columns=["Churn"])


def test_blank_numbers_are_missing_but_text_in_a_number_column_is_rejected():
    spec = FeatureSpec(numeric=["TotalCharges"], categorical=["Contract"], id_columns=["customerID"])
    chunk = pd.DataFrame(
        {"customerID": ["a", "b", "c", "d", "e"], "Contract": ["x"] * 5,
         "TotalCharges": ["12.5", " ", None, "abc", "inf"]},
        index=range(100, 105),  # a later chunk: row numbers continue from `first_row`
    )
    good, rejected = split_rejects(chunk, spec, first_row=101)
    assert good["customerID"].tolist() == ["a", "b", "c"]  # " " and empty are Telco's "not billed yet"
    assert rejected.to_dict("records") == [
        {"row": 104, "customerID": "d", "problems": "TotalCharges='abc' is not a number"},
        {"row": 105, "customerID": "e", "problems": "TotalCharges='inf' is not a number"},
    ]


@pytest.mark.parametrize(
    ("uri", "version"),
    [("models:/churn-classifier/1", "1"), ("models:/churn-classifier/latest", None), ("runs:/{run_id}/model", "1")],
)
def test_resolve_pins_a_concrete_version(trained_run, client, uri, version):
    resolved = resolve(uri.format(run_id=trained_run["run_id"]), client)
    latest = max(int(found.version) for found in client.search_model_versions("name = 'churn-classifier'"))
    assert resolved.model_version == (version or str(latest))
    assert resolved.model_uri == f"models:/churn-classifier/{resolved.model_version}"
    assert resolved.model_name == "churn-classifier" and len(resolved.run_id) == 32


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/churn-classifier@no-such-alias", r"Cannot resolve models:/churn-classifier@no-such-alias.*models list"),
        ("s3://bucket/model.pkl", r"Unsupported model URI.*models:/NAME@ALIAS"),
    ],
)
def test_resolve_errors_say_what_to_pass(client, uri, message):
    with pytest.raises(RegistryError, match=message):
        resolve(uri, client)


def test_every_row_names_the_model_and_chunking_does_not_change_scores(version_one, trained_run, rows, tmp_path):
    rows.loc[3, "TotalCharges"] = " "  # the Telco quirk: scored (imputed), not rejected
    rows.to_csv(tmp_path / "in.csv", index=False)
    outputs = {}
    for chunk_rows in (7, 10_000):
        out = tmp_path / f"out-{chunk_rows}.csv"
        summary = predict_file(version_one, str(tmp_path / "in.csv"), str(out), str(tmp_path / "rej.csv"),
                               tracking_uri=trained_run["tracking_uri"], chunk_rows=chunk_rows)
        assert (summary["rows"], summary["rejected"]) == (60, 0)
        outputs[chunk_rows] = pd.read_csv(out, dtype={"model_version": str})
    small, whole = outputs[7], outputs[10_000]
    assert list(small.columns) == ["customerID", "churn_probability", "churn_predicted", "model_name", "model_version"]
    assert small["customerID"].tolist() == rows["customerID"].tolist()
    assert set(small["model_version"]) == {"1"} and set(small["model_name"]) == {"churn-classifier"}
    pd.testing.assert_frame_equal(small, whole)
    assert ((small["churn_probability"] >= 0.5).astype(int) == small["churn_predicted"]).all()


def test_missing_columns_are_named_and_nothing_is_written(version_one, trained_run, rows, tmp_path):
    rows.drop(columns=["tenure", "Contract"]).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['tenure', 'Contract'\] that churn-classifier v1 needs"):
        predict_file(version_one, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), str(tmp_path / "rej.csv"),
                     tracking_uri=trained_run["tracking_uri"])
    assert not (tmp_path / "out.csv").exists()


def test_garbage_rows_go_to_the_rejection_file(version_one, trained_run, rows, tmp_path):
    rows.loc[[4, 9], "MonthlyCharges"] = ["abc", "12,50"]
    rows.to_csv(tmp_path / "in.csv", index=False)
    summary = predict_file(version_one, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), str(tmp_path / "rej.csv"),
                           tracking_uri=trained_run["tracking_uri"], chunk_rows=8, max_rejected_fraction=0.05)
    assert (summary["rows"], summary["rejected"], summary["rejected_columns"]) == (58, 2, {"MonthlyCharges": 2})
    rejected = pd.read_csv(tmp_path / "rej.csv")
    assert rejected["row"].tolist() == [5, 10]  # 1-based data rows of the input file
    assert rejected["customerID"].tolist() == rows.loc[[4, 9], "customerID"].tolist()
    scored = pd.read_csv(tmp_path / "out.csv")
    assert len(scored) == 58 and scored["churn_probability"].notna().all()


def test_too_much_garbage_fails_the_job_and_writes_no_predictions(version_one, trained_run, rows, tmp_path):
    rows.loc[[4, 9], "MonthlyCharges"] = "abc"
    rows.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DatasetError, match=r"2 of 60 input rows.*MonthlyCharges \(2 rows\).*no predictions were written"):
        predict_file(version_one, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), str(tmp_path / "rej.csv"),
                     tracking_uri=trained_run["tracking_uri"], max_rejected_fraction=0.01)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.partial").exists()
    assert len(pd.read_csv(tmp_path / "rej.csv")) == 2


def test_a_full_disk_names_the_path_and_leaves_nothing(version_one, trained_run, rows, tmp_path, monkeypatch):
    """Issue 16, Why 6: "No space left on device" with no path. The writer fails as a full disk does (ENOSPC)."""
    import errno

    rows.to_csv(tmp_path / "in.csv", index=False)

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    with pytest.raises(DatasetError, match=r"No space left while writing the predictions to .*out\.csv\.partial"):
        predict_file(version_one, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), str(tmp_path / "rej.csv"),
                     tracking_uri=trained_run["tracking_uri"])
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.partial").exists()


# Categories checked like numbers (issue 25): values outside what the model saw were scored silently
# (0.29 -> 0.115 for a lower-case 'month-to-month'), and a batch whose whole column was blank exited 0.
UNSEEN = ["month-to-month", "5", "['Month-to-month']", "\U0001f525 promo", "x" * 1_000_000]


def test_a_few_unseen_categories_are_scored_counted_and_named(version_one, trained_run, rows, tmp_path):
    rows = pd.concat([rows] * 4, ignore_index=True)  # 240 rows: 2 unseen values stay under 1%
    rows.loc[7, "Contract"] = "month-to-month"
    rows.loc[8, "PaymentMethod"] = "5"
    rows.to_csv(tmp_path / "in.csv", index=False)
    summary = predict_file(version_one, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), str(tmp_path / "rej.csv"),
                           tracking_uri=trained_run["tracking_uri"], chunk_rows=50)
    assert (summary["rows"], summary["rejected"]) == (240, 0)
    assert summary["unseen_categories"] == {"Contract": 1, "PaymentMethod": 1}
    assert summary["unseen_category_rows"] == 2
    assert "'month-to-month'" in summary["unseen_category_values"] and "'5'" in summary["unseen_category_values"]
    assert len(pd.read_csv(tmp_path / "out.csv")) == 240


def test_too_many_unseen_categories_fail_the_job_naming_columns_and_values(version_one, trained_run, rows, tmp_path):
    for index, value in enumerate(UNSEEN):
        rows.loc[index, "Contract"] = value
    rows.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DatasetError, match=r"5 of 60 input rows hold category values the model never saw in training \(Contract: "
                                           r"5 value\(s\) never seen in training, e.g. 'month-to-month', '5', .*"
                                           r"max_unseen_fraction=0.05, so no predictions"):
        predict_file(version_one, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), str(tmp_path / "rej.csv"),
                     tracking_uri=trained_run["tracking_uri"], chunk_rows=7, max_unseen_fraction=0.05)
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("column", ["Contract", "MonthlyCharges"])
def test_a_column_blank_on_every_row_is_an_error_unless_allowed(version_one, trained_run, rows, tmp_path, column):
    rows[column] = ""
    rows.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DatasetError, match=rf"Column\(s\) \['{column}'\] of .* are blank on every one of its 60 rows.*"
                                           "--allow-blank-columns"):
        predict_file(version_one, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), str(tmp_path / "rej.csv"),
                     tracking_uri=trained_run["tracking_uri"], chunk_rows=25)
    assert not (tmp_path / "out.csv").exists()
    summary = predict_file(version_one, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), str(tmp_path / "rej.csv"),
                           tracking_uri=trained_run["tracking_uri"], allow_blank_columns=True)
    assert summary["rows"] == 60 and summary["unseen_categories"] == {}  # blank is missing, not unseen
