"""`output_uri` against real object stores (moto_server for S3, gcp-storage-emulator for GCS, started by
conftest.py): a publish lands whole at the final key and leaves no temporary; a failed or short upload
publishes nothing and keeps the previous object; sharded inputs are listed by glob and by prefix."""

from __future__ import annotations

import pytest

from churnops.errors import DatasetError
from churnops.storage import outputs, uris

pytestmark = pytest.mark.integration

BODY = b"id,churn_probability\n" + b"".join(f"c{i},0.{i:06d}\n".encode() for i in range(20000))


def base(topology, scheme: str, name: str) -> str:
    bucket = topology.bucket if scheme == "s3" else topology.gcs_bucket
    return f"{scheme}://{bucket}/outputs-{name}"


def read(uri: str) -> bytes:
    with uris.open_input(uri, "--output") as stream:
        return stream.read()


@pytest.fixture
def local_body(tmp_path):
    path = tmp_path / "scored.csv"
    path.write_bytes(BODY)
    return path


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_a_publish_lands_whole_and_leaves_no_temporary(topology, local_body, scheme):
    target = f"{base(topology, scheme, 'whole')}/2026-01-05.csv"
    assert outputs.publish(str(local_body), target) == target
    assert read(target) == BODY
    keys = topology.keys(base(topology, scheme, "whole"))
    assert [key.rsplit("/", 1)[1] for key in keys] == ["2026-01-05.csv"], keys  # no *.partial-* left behind


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_a_failed_server_side_copy_keeps_the_previous_object(topology, local_body, tmp_path, scheme, monkeypatch):
    target = f"{base(topology, scheme, 'failed')}/latest.csv"
    previous = tmp_path / "previous.csv"
    previous.write_bytes(b"id,churn_probability\nold,0.5\n")
    outputs.publish(str(previous), target)
    fs, _ = uris.filesystem(target)

    def refuse(*args, **kwargs):  # the store refuses the copy (a permission, a quota): on purpose, once
        raise PermissionError("copy refused by the test")

    monkeypatch.setattr(type(fs), "copy", refuse)
    with pytest.raises(DatasetError, match="copy refused by the test"):  # the injected refusal, not another error
        outputs.publish(str(local_body), target)
    monkeypatch.undo()
    assert read(target) == previous.read_bytes()
    assert [key.rsplit("/", 1)[1] for key in topology.keys(base(topology, scheme, "failed"))] == ["latest.csv"]


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_a_short_upload_is_caught_before_the_final_key_changes(topology, local_body, tmp_path, scheme, monkeypatch):
    target = f"{base(topology, scheme, 'short')}/latest.csv"
    fs, _ = uris.filesystem(target)
    original = type(fs).put_file
    half = tmp_path / "half.csv"
    half.write_bytes(BODY[: len(BODY) // 2])

    def put_half(self, lpath, rpath, *args, **kwargs):  # a truncated body reaches the store
        return original(self, str(half), rpath, *args, **kwargs)

    monkeypatch.setattr(type(fs), "put_file", put_half)
    with pytest.raises(DatasetError, match=rf"stored {len(BODY) // 2} of {len(BODY)} bytes; nothing was published"):
        outputs.publish(str(local_body), target)
    monkeypatch.undo()
    assert topology.keys(base(topology, scheme, "short")) == []


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_sharded_inputs_are_listed_by_glob_and_by_prefix(topology, local_body, scheme):
    folder = base(topology, scheme, "shards")
    for name in ("part-2.csv", "part-0.csv", "part-1.csv", "notes.txt"):
        outputs.publish(str(local_body), f"{folder}/in/{name}")
    expected = [f"{folder}/in/part-{i}.csv" for i in range(3)]
    assert outputs.list_inputs(f"{folder}/in/part-*.csv") == expected
    assert outputs.list_inputs(f"{folder}/in/") == expected
    with pytest.raises(DatasetError, match="No input files match"):
        outputs.list_inputs(f"{folder}/nothing-*.csv")
