"""Both object stores behave the same on the same keys (local folder, and S3 through moto)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from resources.object_store import LocalObjectStore, ObjectNotFoundError, ObjectStore, S3ObjectStore


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        yield LocalObjectStore(root=str(tmp_path / "bucket"))
        return
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="test-bucket")
        yield S3ObjectStore(bucket="test-bucket")


def test_round_trip_and_listing(store: ObjectStore, tmp_path: Path) -> None:
    store.put_json("a/b/one.json", {"x": 1})
    store.put_bytes("a/two.bin", b"\x00\x01")
    source = tmp_path / "file.parquet"
    source.write_bytes(b"PAR1" * 10)
    store.upload_file(source, "ttm-artifacts/2026-11-22/file.parquet")

    assert store.get_json("a/b/one.json") == {"x": 1}
    assert store.get_bytes("a/two.bin") == b"\x00\x01"
    assert store.exists("ttm-artifacts/2026-11-22/file.parquet")
    assert not store.exists("a/missing.json")
    assert [info.key for info in store.list("a/")] == ["a/b/one.json", "a/two.bin"]
    downloaded = tmp_path / "down.parquet"
    store.download_file("ttm-artifacts/2026-11-22/file.parquet", downloaded)
    assert downloaded.read_bytes() == b"PAR1" * 10


def test_missing_key_raises_and_none_helper(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("nope.json")
    assert store.get_json_or_none("nope.json") is None


def test_overwrite_replaces_whole_object(store: ObjectStore) -> None:
    store.put_bytes("k.txt", b"first version, long")
    store.put_bytes("k.txt", b"second")
    assert store.get_bytes("k.txt") == b"second"


def test_prune_deletes_only_old_objects_under_prefix(store: ObjectStore) -> None:
    store.put_bytes("ttm-artifacts/2026-10-01/a.parquet", b"old")
    store.put_bytes("keep/other.json", b"{}")
    future = datetime.now(UTC) + timedelta(days=31)
    assert store.prune_older_than("ttm-artifacts/", timedelta(days=30), now=datetime.now(UTC)) == []
    pruned = store.prune_older_than("ttm-artifacts/", timedelta(days=30), now=future)
    assert pruned == ["ttm-artifacts/2026-10-01/a.parquet"]
    assert not store.exists("ttm-artifacts/2026-10-01/a.parquet")
    assert store.exists("keep/other.json")


@pytest.mark.parametrize("key", ["/abs.json", "../escape.json", "a/../../b", ""])
def test_rejects_keys_outside_the_bucket(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError, match="Invalid object key"):
        store.put_bytes(key, b"x")


def test_local_write_failure_leaves_previous_object_and_no_temp_file(tmp_path: Path) -> None:
    store = LocalObjectStore(root=str(tmp_path))
    store.put_bytes("x/data.bin", b"good")

    class Boom(Exception):
        pass

    def failing_write(handle: object) -> None:
        handle.write(b"half")  # type: ignore[attr-defined]
        raise Boom

    with pytest.raises(Boom):
        store._atomic_write("x/data.bin", failing_write)
    assert store.get_bytes("x/data.bin") == b"good"
    assert os.listdir(tmp_path / "x") == ["data.bin"]


def test_local_prune_removes_empty_folders(tmp_path: Path) -> None:
    store = LocalObjectStore(root=str(tmp_path))
    store.put_bytes("ttm-artifacts/2026-01-04/a.parquet", b"x")
    store.prune_older_than("ttm-artifacts/", timedelta(days=30), now=datetime.now(UTC) + timedelta(days=60))
    assert not (tmp_path / "ttm-artifacts" / "2026-01-04").exists()
