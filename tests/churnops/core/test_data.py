"""Dataset validation: every bad input stops with an error that names the problem and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

from churnops.core import data
from churnops.errors import DatasetError
from churnops.storage.datasets import read_dataset


def write(tmp_path, text: str, name: str = "input.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "Dataset not found"),
        ("", "is empty"),
        ("customerID,tenure,Churn\n", "no data rows"),
    ],
    ids=["missing-file", "empty-file", "header-only"],
)
def test_unreadable_inputs_name_the_problem(tmp_path, content, expected):
    path = str(tmp_path / "absent.csv") if content is None else write(tmp_path, content)
    with pytest.raises(DatasetError, match=expected) as error:
        read_dataset(path)
    assert "--dataset" in str(error.value) or "Pass a CSV" in str(error.value)


def frame(target_values, extra_rows: int = 0) -> pd.DataFrame:
    values = list(target_values) * (1 + extra_rows)
    return pd.DataFrame({"tenure": [str(i) for i in range(len(values))], "Churn": values})


@pytest.mark.parametrize(
    ("target_values", "target", "expected"),
    [
        (["Yes", "No"] * 10, "Exited", r"Target column 'Exited' is not in the dataset.*--target"),
        (["No"] * 20, "Churn", r"single class \('No'\)"),
        (["Yes", "No", "Maybe"] * 7, "Churn", r"must be binary but has 3 values.*'Maybe'"),
        (["Yes", "No", ""] * 7, "Churn", r"empty in 7 row"),
        (["up", "down"] * 10, "Churn", r"Cannot tell which value.*--positive-label"),
    ],
    ids=["missing-target", "single-class", "not-binary", "blank-target", "unknown-labels"],
)
def test_bad_targets_are_refused_with_the_fix(target_values, target, expected):
    with pytest.raises(DatasetError, match=expected):
        data.split_dataset(frame(target_values), target, 0.2)


def test_blank_target_cells_read_from_csv_are_refused(tmp_path):
    path = write(tmp_path, "tenure,Churn\n" + "".join(f"{i},{'Yes' if i % 2 else 'No'}\n" for i in range(20)) + "5,\n")
    with pytest.raises(DatasetError, match="empty in 1 row"):
        data.split_dataset(read_dataset(path), "Churn", 0.2)


@pytest.mark.parametrize(
    ("target_values", "test_size", "expected"),
    [
        (["Yes", "No", "No"], 0.2, "Too few rows for a stratified split"),
        (["Yes"] + ["No"] * 30, 0.2, r"1 in the smaller class"),
        (["Yes", "No"] * 20, 1.5, "between 0 and 1"),
    ],
    ids=["three-rows", "one-positive", "bad-ratio"],
)
def test_splits_that_cannot_hold_both_classes_are_refused(target_values, test_size, expected):
    with pytest.raises(DatasetError, match=expected):
        data.split_dataset(frame(target_values), "Churn", test_size)


def test_positive_label_can_be_named_and_must_exist():
    split = data.split_dataset(frame(["up", "down"] * 10), "Churn", 0.2, positive_label="up")
    assert split.positive_label == "up"
    with pytest.raises(DatasetError, match="positive_label 'left' is not a value"):
        data.split_dataset(frame(["up", "down"] * 10), "Churn", 0.2, positive_label="left")


@pytest.mark.parametrize("labels", [("True", "False"), ("1", "0"), ("yes", "no")])
def test_common_binary_encodings_are_detected(labels):
    split = data.split_dataset(frame(list(labels) * 10), "Churn", 0.25)
    assert split.positive_label == labels[0]
    assert set(split.y_train.unique()) == {0, 1}


def test_split_is_stratified_and_reproducible(churn_frame):
    first = data.split_dataset(churn_frame, "Churn", 0.2, random_state=7)
    second = data.split_dataset(churn_frame, "Churn", 0.2, random_state=7)
    other = data.split_dataset(churn_frame, "Churn", 0.2, random_state=8)
    assert len(first.x_test) == 120 and len(first.x_train) == 480
    assert "Churn" not in first.x_train.columns
    assert abs(first.y_train.mean() - first.y_test.mean()) < 0.01
    pd.testing.assert_frame_equal(first.x_train, second.x_train)
    assert not first.x_train.equals(other.x_train)


def test_fingerprint_follows_content_not_location(tmp_path, churn_frame):
    a = write(tmp_path, churn_frame.to_csv(index=False), "a.csv")
    b = write(tmp_path, churn_frame.to_csv(index=False), "b.csv")
    changed = churn_frame.copy()
    changed.loc[0, "tenure"] = "71"
    c = write(tmp_path, changed.to_csv(index=False), "c.csv")
    fingerprints = [data.fingerprint(read_dataset(path)) for path in (a, b, c)]
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]


def test_telco_blank_total_charges_survive_reading(synthetic_csv):
    frame = read_dataset(str(synthetic_csv))
    # Read as text: the " " quirk stays a value for the model's coercion step, not a read error.
    assert (frame["TotalCharges"] == " ").sum() > 0
    assert frame["customerID"].is_unique


def test_file_uri_is_read_like_a_path(synthetic_csv):
    assert len(read_dataset(synthetic_csv.as_uri())) == 5000


@pytest.mark.parametrize(("values", "churn"), [
    (["Churned", "Stayed"], "Churned"), (["Left", "Retained"], "Left"), (["Cancelled", "Active"], "Cancelled"),
    (["exited", "current"], "exited"), (["Inactive", "Active"], "Inactive"),
    # issue 24: the public bank-churn file's Attrition_Flag, and churn words inside longer values
    (["Attrited Customer", "Existing Customer"], "Attrited Customer"), (["Customer left", "Customer"], "Customer left"),
    (["churned", "not churned"], "churned"), (["Exited (closed account)", "Open account"], "Exited (closed account)"),
])
def test_targets_that_name_churn_in_other_words_need_no_flag(values, churn):
    from churnops.core.data import resolve_positive_label

    assert resolve_positive_label(values, "Status") == churn


@pytest.mark.parametrize("values", [["Silver", "Gold"], ["Churned", "Left"], ["Churned", "Yes"], ["Yes", "Maybe"]])
def test_an_ambiguous_target_lists_its_values_and_the_flag(values):
    from churnops.core.data import resolve_positive_label
    from churnops.errors import DatasetError

    first = sorted(values)[0]
    with pytest.raises(DatasetError, match=rf"its two values are .*\. .*--positive-label '{first}'"):
        resolve_positive_label(values, "Tier")


@pytest.mark.parametrize(("target", "hint"), [("churn", "Did you mean 'Churn' (column names are case-sensitive)?"),
                                              ("Chrun", "Did you mean 'Churn'?")])
def test_a_mistyped_target_gets_the_column_it_probably_meant(target, hint):
    with pytest.raises(DatasetError) as error:
        data.split_dataset(frame(["Yes", "No"] * 10), target, 0.2)
    assert hint in str(error.value) and "--target" in str(error.value)
