"""Object store: a local folder laid out exactly like the S3 bucket, or the S3 bucket itself.

Both implementations take the same keys (``ttm-artifacts/2026-11-22/ttm_per_share_financial_artifact.parquet``)
and never expose a half-written object under its final key: the local store writes to a temporary file in
the same folder and renames it into place; S3 only shows an object once its upload completed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
from botocore.exceptions import ClientError
from pydantic import PrivateAttr


class ObjectNotFoundError(KeyError):
    """No object under that key."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime


class ObjectStore(dg.ConfigurableResource):
    """Interface shared by :class:`LocalObjectStore` and :class:`S3ObjectStore`."""

    def uri(self, key: str) -> str:
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def upload_file(self, local_path: Path, key: str) -> None:
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def download_file(self, key: str, local_path: Path) -> None:
        local_path.write_bytes(self.get_bytes(key))

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    # Conveniences shared by both implementations.
    def put_json(self, key: str, value: Any) -> None:
        self.put_bytes(key, json.dumps(value, sort_keys=True, separators=(",", ":")).encode())

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def get_json_or_none(self, key: str) -> Any | None:
        try:
            return self.get_json(key)
        except ObjectNotFoundError:
            return None

    def prune_older_than(self, prefix: str, max_age: timedelta, now: datetime | None = None) -> list[str]:
        """Delete objects under ``prefix`` last written more than ``max_age`` ago; return their keys.

        Mirrors an S3 lifecycle expiration rule, so the local store keeps the same retention.
        """
        cutoff = (now or datetime.now(UTC)) - max_age
        pruned = [info.key for info in self.list(prefix) if info.last_modified < cutoff]
        for key in pruned:
            self.delete(key)
        return pruned


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ValueError(f"Invalid object key {key!r}: keys are relative paths like 'a/b/c.parquet'.")
    return key


class LocalObjectStore(ObjectStore):
    """A folder on disk with the bucket's layout: key ``a/b.json`` is the file ``<root>/a/b.json``."""

    root: str

    def _path(self, key: str) -> Path:
        return Path(self.root) / _check_key(key)

    def uri(self, key: str) -> str:
        return self._path(key).resolve().as_uri()

    def _atomic_write(self, key: str, write: Any) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda handle: handle.write(data))

    def upload_file(self, local_path: Path, key: str) -> None:
        def copy(handle: Any) -> None:
            with open(local_path, "rb") as source:
                while chunk := source.read(1 << 20):
                    handle.write(chunk)

        self._atomic_write(key, copy)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        root = Path(self.root)
        # Walk only the folder the prefix points into, not the whole store.
        start = root / prefix.rsplit("/", 1)[0] if "/" in prefix else root
        if not start.is_dir():
            return
        for path in sorted(start.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            key = path.relative_to(root).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                yield ObjectInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Drop folders left empty so the tree looks like the bucket's listing.
        root = Path(self.root).resolve()
        parent = path.parent.resolve()
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


class S3ObjectStore(ObjectStore):
    """An S3 bucket (or any S3-compatible endpoint, e.g. moto server in tests)."""

    bucket: str
    region_name: str = "us-east-1"
    endpoint_url: str | None = None

    _s3: Any = PrivateAttr(default=None)

    def _client(self) -> Any:
        # One client per resource: creating one costs milliseconds, and the artifact build reads two objects
        # per ticker. boto3 clients are thread-safe.
        if self._s3 is None:
            self._s3 = boto3.client("s3", region_name=self.region_name, endpoint_url=self.endpoint_url or None)
        return self._s3

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{_check_key(key)}"

    def put_bytes(self, key: str, data: bytes) -> None:
        self._client().put_object(Bucket=self.bucket, Key=_check_key(key), Body=data)

    def upload_file(self, local_path: Path, key: str) -> None:
        # upload_file switches to multipart for big files; S3 shows the object only once it completes.
        self._client().upload_file(str(local_path), self.bucket, _check_key(key))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._client().get_object(Bucket=self.bucket, Key=_check_key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFoundError(key) from None
            raise

    def download_file(self, key: str, local_path: Path) -> None:
        try:
            self._client().download_file(self.bucket, _check_key(key), str(local_path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFoundError(key) from None
            raise

    def exists(self, key: str) -> bool:
        try:
            self._client().head_object(Bucket=self.bucket, Key=_check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self._client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(item["Key"], item["Size"], item["LastModified"])

    def delete(self, key: str) -> None:
        self._client().delete_object(Bucket=self.bucket, Key=_check_key(key))
