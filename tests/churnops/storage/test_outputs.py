"""Publishing predictions: the final name holds the whole file or the old one, never a part; shard listing."""

from __future__ import annotations

import os
import shutil

import pytest

from churnops.errors import DatasetError
from churnops.steps.publish_predictions import rejections_uri_for
from churnops.storage import outputs


def test_local_publish_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    source = tmp_path / "scored.csv"
    source.write_text("id,p\n1,0.5\n")
    target = tmp_path / "out" / "predictions.csv"
    assert outputs.publish(str(source), str(target)) == str(target)
    source.write_text("id,p\n1,0.7\n2,0.1\n")
    outputs.publish(str(source), target.as_uri())
    assert target.read_text() == "id,p\n1,0.7\n2,0.1\n"
    assert sorted(os.listdir(target.parent)) == ["predictions.csv"]


def test_a_failed_copy_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "predictions.csv"
    target.write_text("old\n")
    source = tmp_path / "new.csv"
    source.write_text("new\n" * 1000)

    def half_then_fail(src, dst):
        with open(dst, "w") as handle:
            handle.write("new\n")  # a partial body ...
        raise OSError("disk full")  # ... then the write dies

    monkeypatch.setattr(shutil, "copyfile", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        outputs.publish(str(source), str(target))
    assert target.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["new.csv", "predictions.csv"]


@pytest.mark.parametrize("uri", ["http://example.com/p.csv", "ftp://host/p.csv"])
def test_unwritable_schemes_are_refused(tmp_path, uri):
    with pytest.raises(DatasetError, match="Cannot write predictions to"):
        outputs.publish(str(tmp_path), uri)


@pytest.mark.parametrize(("uri", "expected"), [
    ("gs://b/scores/2026-01-05.csv", "gs://b/scores/2026-01-05.rejected.csv"),
    ("/tmp/p", "/tmp/p.rejected.csv"),
    ("predictions.csv", "predictions.rejected.csv"),
])
def test_rejected_rows_go_beside_the_predictions(uri, expected):
    assert rejections_uri_for(uri) == expected


def test_inputs_by_glob_or_folder_are_listed_sorted(tmp_path):
    for name in ("part-2.csv", "part-10.csv", "part-1.csv", "notes.txt"):
        (tmp_path / name).write_text("a\n1\n")
    assert outputs.list_inputs(str(tmp_path / "part-*.csv")) == [str(tmp_path / n) for n in
                                                                  ("part-1.csv", "part-10.csv", "part-2.csv")]
    assert len(outputs.list_inputs(f"{tmp_path}/")) == 3
    assert outputs.list_inputs(str(tmp_path / "part-1.csv")) == [str(tmp_path / "part-1.csv")]
    with pytest.raises(DatasetError, match="No input files match"):
        outputs.list_inputs(str(tmp_path / "none-*.csv"))
