"""Issue 16, Why 6: every bad input gets a one-paragraph error naming the problem and the fix, before any work.

On main these surfaced as "unexpected error: UnicodeDecodeError", a `--target` hint for a
semicolon file, silent training on `gender.1`, and "index 0 is out of bounds" for a header-only input.
"""

from __future__ import annotations

import os

import pytest

from churnops.app import runs
from churnops.errors import ChurnopsError, DatasetError
from churnops.steps.batch_predict import input_columns
from churnops.storage.datasets import read_dataset

HEADER = "customerID,gender,tenure,Churn\n"
ROWS = "0001-A,Female,12,No\n0002-B,Male,3,Yes\n"


@pytest.mark.parametrize(("content", "words"), [
    ((HEADER + "0003-C,Fémale,4,No\n").encode("latin-1"), ["not UTF-8", "line 2", "iconv -f latin1"]),
    (b"PK\x03\x04\x00\x00binary\x00xlsx", ["not a text CSV", "NUL bytes", "Export it as CSV"]),
    ((HEADER + ROWS).replace(",", ";").encode(), ["semicolon-delimited", "sep=';'", "Re-export it with commas"]),
    ("customerID,gender,tenure,gender,Churn\n1,F,2,F,No\n".encode(), ["duplicate column names: gender"]),
], ids=["latin-1", "binary", "semicolon", "duplicate-columns"])
@pytest.mark.parametrize("reader", ["train", "predict"])
def test_unreadable_files_are_named_with_the_fix(tmp_path, content, words, reader):
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError) as error:
        read_dataset(str(path)) if reader == "train" else input_columns(str(path))
    message = str(error.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    assert ("--dataset" if reader == "train" else "--input") in message


def test_utf8_with_a_bom_and_telco_style_blanks_still_read(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(("\ufeff" + HEADER + "0003-C,Fémale, ,No\n").encode("utf-8"))
    assert list(read_dataset(str(path)).columns) == ["customerID", "gender", "tenure", "Churn"]


def test_a_header_only_predict_input_is_refused(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(HEADER)
    with pytest.raises(DatasetError, match="has a header but no data rows: there is nothing to score"):
        input_columns(str(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write a read-only directory")
def test_an_unwritable_output_is_refused_before_scoring_as_user(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ChurnopsError, match="not writable"):
        runs.check_output_writable(locked / "out.csv")


@pytest.mark.parametrize("make", ["directory", "file-as-parent"])
def test_an_unwritable_output_is_refused_before_scoring(tmp_path, make):
    if make == "directory":
        output = tmp_path / "out.csv"
        output.mkdir()
    else:
        (tmp_path / "plain").write_text("x")
        output = tmp_path / "plain" / "out.csv"
    with pytest.raises(ChurnopsError, match="nothing was scored. Pass a writable path with --output"):
        # the model URI does not even exist: the output is checked before anything is resolved or scored
        runs.predict("models:/nothing@champion", str(tmp_path / "missing.csv"), str(output), home=tmp_path / "h")
