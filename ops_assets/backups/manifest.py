"""Where backups live in the object store, what their manifest says, and which ones pruning deletes.

Plain functions, no Dagster. Layout (the same keys in the S3 bucket and in the local object store)::

    backups/central/YYYY/MM/DD/central-<UTC stamp>-<token>.pgdump           pg_dump --format=custom (PostgreSQL)
    backups/central/YYYY/MM/DD/central-<UTC stamp>-<token>.sqlite3          SQLite online backup (local)
    backups/central/YYYY/MM/DD/central-<UTC stamp>-<token>.<ext>.sha256     "<sha256>  <file name>" for ``sha256sum -c``
    backups/central/YYYY/MM/DD/manifest.json                        written last: the day's backup is complete

A day's backup is complete only once its ``manifest.json`` exists, and the manifest names the dump file it
describes. A rerun of the day uploads a new dump under a new name, then replaces the manifest (one atomic object
write switches the day to the new dump), then deletes the old dump: at every moment the day's manifest points at a
whole, matching dump.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

PREFIX = "backups/central/"
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
DEFAULT_KEEP = 7

ENGINE_EXTENSIONS = {"postgresql": "pgdump", "sqlite": "sqlite3"}

_DAY_KEY = re.compile(r"^backups/central/(\d{4})/(\d{2})/(\d{2})/([^/]+)$")


class ManifestError(ValueError):
    """A manifest that cannot be read: not JSON, or a field missing or of the wrong type."""


@dataclass(frozen=True)
class TableFingerprint:
    """One table at dump time: its row count and a checksum of its key columns."""

    rows: int
    key_columns: tuple[str, ...]
    key_checksum: str
    """Order-independent: the sum modulo 2**128 of the md5 of each row's key values (see ``fingerprint``)."""


@dataclass(frozen=True)
class Manifest:
    """What one backup holds, written beside the dump once the dump is safely stored."""

    day: date
    engine: str
    dump_file: str
    sha256: str
    size_bytes: int
    taken_at: datetime
    tables: Mapping[str, TableFingerprint]
    tool: str = ""
    """What wrote the dump: ``pg_dump (PostgreSQL) 15.x`` or ``sqlite3 <version>``."""
    snapshot: str = ""
    """PostgreSQL: the exported snapshot pg_dump and the row counts shared; empty for SQLite."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dump_key(self) -> str:
        return day_prefix(self.day) + self.dump_file

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.day)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "day": self.day.isoformat(),
            "engine": self.engine,
            "dump_file": self.dump_file,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "taken_at": self.taken_at.astimezone(UTC).isoformat(),
            "tool": self.tool,
            "snapshot": self.snapshot,
            "tables": {
                name: {"rows": t.rows, "key_columns": list(t.key_columns), "key_checksum": t.key_checksum}
                for name, t in sorted(self.tables.items())
            },
            **({"extra": dict(self.extra)} if self.extra else {}),
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, value: Any) -> Manifest:
        try:
            if value.get("manifest_version") != MANIFEST_VERSION:
                raise ManifestError(f"manifest_version {value.get('manifest_version')!r} is not {MANIFEST_VERSION}")
            tables = {
                str(name): TableFingerprint(int(t["rows"]), tuple(t["key_columns"]), str(t["key_checksum"]))
                for name, t in value["tables"].items()
            }
            manifest = cls(
                day=date.fromisoformat(value["day"]),
                engine=str(value["engine"]),
                dump_file=str(value["dump_file"]),
                sha256=str(value["sha256"]),
                size_bytes=int(value["size_bytes"]),
                taken_at=datetime.fromisoformat(value["taken_at"]),
                tables=tables,
                tool=str(value.get("tool", "")),
                snapshot=str(value.get("snapshot", "")),
                extra=dict(value.get("extra", {})),
            )
        except ManifestError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"the manifest is not readable: {type(exc).__name__}: {exc}") from None
        if manifest.engine not in ENGINE_EXTENSIONS:
            raise ManifestError(f"engine {manifest.engine!r} is not one of {', '.join(ENGINE_EXTENSIONS)}")
        if "/" in manifest.dump_file or not manifest.dump_file:
            raise ManifestError(f"dump_file {manifest.dump_file!r} is not a file name in the day's folder")
        return manifest

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise ManifestError(f"the manifest is not JSON: {exc}") from None
        return cls.from_json(value)


# ------------------------------------------------------------------------------------------------------ keys


def day_prefix(day: date) -> str:
    """``backups/central/YYYY/MM/DD/``."""
    return f"{PREFIX}{day:%Y/%m/%d}/"


def manifest_key(day: date) -> str:
    return day_prefix(day) + MANIFEST_NAME


def dump_file_name(engine: str, taken_at: datetime, token: str | None = None) -> str:
    """A new name per run (UTC stamp + random token), so a rerun never overwrites the dump the manifest names."""
    token = token or secrets.token_hex(3)
    return f"central-{taken_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{token}.{ENGINE_EXTENSIONS[engine]}"


def checksum_file_name(dump_file: str) -> str:
    return f"{dump_file}.sha256"


def checksum_line(sha256: str, dump_file: str) -> bytes:
    """The ``sha256sum`` format (two spaces: text mode), so ``sha256sum -c <dump>.sha256`` checks a download."""
    return f"{sha256}  {dump_file}\n".encode()


def day_of_key(key: str) -> date | None:
    """The day of a key under ``backups/central/YYYY/MM/DD/<file>``; None for anything else."""
    match = _DAY_KEY.match(key)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def complete_days(keys: Iterable[str]) -> list[date]:
    """Days with a manifest (complete backups), newest first."""
    return sorted(
        {d for k in keys if (d := day_of_key(k)) is not None and k.endswith("/" + MANIFEST_NAME)}, reverse=True
    )


@dataclass(frozen=True)
class PrunePlan:
    keep_days: list[date]
    delete_keys: list[str]


def plan_prune(keys: Iterable[str], keep: int = DEFAULT_KEEP) -> PrunePlan:
    """Keep the ``keep`` newest complete backups; delete every object of an older day.

    Days are compared by their folder date. Objects of a day newer than the oldest kept backup are never deleted,
    even without a manifest: that may be a backup being written right now (a crashed run's leftovers there age out
    with the day). Keys outside the ``YYYY/MM/DD/<file>`` layout are left alone: pruning deletes only what it
    recognises. Fewer than ``keep`` complete backups: nothing is deleted.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (got {keep}): pruning must never delete the newest backup.")
    keys = list(keys)
    complete = complete_days(keys)
    kept = complete[:keep]
    if len(complete) < keep:
        return PrunePlan(kept, [])
    cutoff = kept[-1]
    delete = sorted(k for k in keys if (d := day_of_key(k)) is not None and d < cutoff)
    return PrunePlan(kept, delete)


# ------------------------------------------------------------------------------------------------ checksums


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """The file's sha256 (hex) and size in bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def compare_tables(expected: Mapping[str, TableFingerprint], actual: Mapping[str, TableFingerprint]) -> list[str]:
    """What differs between the tables the manifest recorded and those restored; empty when all match."""
    problems: list[str] = []
    for name in sorted(expected):
        want = expected[name]
        got = actual.get(name)
        if got is None:
            problems.append(f"table {name} ({want.rows} rows at dump time) is missing after the restore")
            continue
        if got.rows != want.rows:
            problems.append(f"table {name}: {got.rows} rows restored, {want.rows} at dump time")
        elif got.key_columns != want.key_columns:
            problems.append(
                f"table {name}: key columns {list(got.key_columns)} after the restore, {list(want.key_columns)} "
                "at dump time"
            )
        elif got.key_checksum != want.key_checksum:
            problems.append(
                f"table {name}: the checksum of its key columns ({', '.join(want.key_columns)}) differs from the "
                "one at dump time although the row count matches"
            )
    for name in sorted(set(actual) - set(expected)):
        problems.append(f"table {name} exists after the restore but is not in the manifest")
    return problems
