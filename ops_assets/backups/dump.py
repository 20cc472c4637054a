"""Take a backup of the central store and file it in the object store, then prune old ones.

Plain functions, no Dagster (the asset in ``assets.py`` calls them).

PostgreSQL: a REPEATABLE READ, READ ONLY transaction exports its snapshot (``pg_export_snapshot()``); ``pg_dump
--format=custom --snapshot=<it>`` dumps exactly that snapshot while the same transaction counts the rows and sums
the key checksums, so the manifest's numbers describe the dump and not a later state (the minutely jobs keep
writing meanwhile). The transaction stays open until pg_dump ends. pg_dump writes to a local temporary file, not a
pipe: the custom format then records each table's data offset, which ``pg_restore --jobs`` needs to restore in
parallel, and the sha256 is taken from the same bytes that are uploaded. The connection comes from the central
store's URL; its password reaches pg_dump through the ``PGPASSWORD`` environment variable, never the command line,
and is scrubbed from any message.

SQLite: Python's ``sqlite3.Connection.backup`` (SQLite's online backup API) copies a consistent snapshot to a file
while writers go on; the counts and checksums are read from that copy.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from ops_assets.backups.fingerprint import fingerprint_tables
from ops_assets.backups.manifest import (
    PREFIX,
    Manifest,
    ManifestError,
    checksum_file_name,
    checksum_line,
    day_prefix,
    dump_file_name,
    manifest_key,
    plan_prune,
    sha256_file,
)

logger = logging.getLogger(__name__)


class BackupError(RuntimeError):
    """A backup could not be taken or stored; the message says what to fix. Nothing was marked complete."""


class ObjectStoreLike(Protocol):
    """What backups need of the object store (``resources.object_store.ObjectStore`` has it)."""

    def uri(self, key: str) -> str: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def upload_file(self, local_path: Path, key: str) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def download_file(self, key: str, local_path: Path) -> None: ...

    def list(self, prefix: str) -> Iterator[Any]: ...

    def delete(self, key: str) -> None: ...


class ConnectionSource(Protocol):
    """Anything with ``connect()`` (the central store resource, or a test's own)."""

    def connect(self) -> AbstractContextManager[Connection]: ...


# ----------------------------------------------------------------------------------------------- connection


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (if any) replaced by ``***``."""
    try:
        password = make_url(url).password
    except Exception:
        password = None
    return text.replace(str(password), "***") if password else text


def backend(url: str) -> str:
    try:
        name = make_url(url).get_backend_name()
    except Exception:
        raise BackupError(
            "The central store URL is not a valid SQLAlchemy URL (expected sqlite:///path/to/file.db or "
            "postgresql+psycopg2://user:password@host:5432/dbname)."
        ) from None
    if name not in ("postgresql", "sqlite"):
        raise BackupError(f"Backups support PostgreSQL and SQLite central stores, not {name}.")
    return name


# libpq reads these from the environment; URL query options of the same name are passed on this way.
_LIBPQ_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
}


def libpq_args(url: str, database: str | None = None) -> tuple[list[str], dict[str, str]]:
    """Command-line connection options and extra environment for pg_dump / pg_restore / psql.

    The password goes into the environment (``PGPASSWORD``) only: a command line is visible to every user of
    the machine (``ps``) and ends up in logs.
    """
    parsed = make_url(url)
    args: list[str] = []
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    args += ["--dbname", database or parsed.database or "postgres"]
    env = {"PGCONNECT_TIMEOUT": "10"}
    for option, variable in _LIBPQ_QUERY_ENV.items():
        value = parsed.query.get(option)
        if isinstance(value, str) and value:
            env[variable] = value
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} was not found on PATH. Install the PostgreSQL client tools of the server's major version "
            f"(Debian: apt-get install postgresql-client-15; in the image, the Dockerfile), or put the folder holding "
            f"{name} on PATH, then run again."
        )
    return path


def tool_version(path: str) -> str:
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _tool_failure(tool: str, returncode: int, stderr: str, url: str) -> BackupError:
    lines = [line for line in scrub(stderr, url).strip().splitlines() if line.strip()]
    detail = " | ".join(lines[-5:]) if lines else "no message"
    hint = ""
    text = stderr.lower()
    if "connection" in text and ("refused" in text or "failed" in text or "timeout" in text):
        hint = (
            " The database server cannot be reached: check that it is running and reachable from here, and the "
            "host, port, database name and credentials in the central store URL."
        )
    elif "server version mismatch" in text or "aborting because of server version" in text:
        hint = " Install the client tools of the server's major version (or newer) and run again."
    elif "password authentication failed" in text:
        hint = " The central store URL's credentials were refused (check the secret it is built from)."
    return BackupError(f"{tool} failed (exit code {returncode}) on {safe_url(url)}: {detail}.{hint}")


# ------------------------------------------------------------------------------------------------- taking it


@dataclass(frozen=True)
class LocalBackup:
    """A backup on local disk, not yet stored: the file and its manifest."""

    path: Path
    manifest: Manifest


def take_backup(url: str, source: ConnectionSource | None, workdir: Path, day: date, now: datetime) -> LocalBackup:
    """Dump the central store at ``url`` into ``workdir``; return the file and its manifest.

    ``source`` gives the PostgreSQL connection that exports the snapshot (the central store resource; None: one
    is made from ``url``). Raises :class:`BackupError` with what to fix.
    """
    engine = backend(url)
    name = dump_file_name(engine, now)
    path = workdir / name
    if engine == "postgresql":
        tables, tool, snapshot = _dump_postgres(url, source, path)
    else:
        tables, tool = _backup_sqlite(url, path)
        snapshot = ""
    sha256, size = sha256_file(path)
    manifest = Manifest(
        day=day,
        engine=engine,
        dump_file=name,
        sha256=sha256,
        size_bytes=size,
        taken_at=now,
        tables=tables,
        tool=tool,
        snapshot=snapshot,
    )
    return LocalBackup(path, manifest)


@contextmanager
def _own_connection(url: str) -> Iterator[Connection]:
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _dump_postgres(url: str, source: ConnectionSource | None, path: Path) -> tuple[dict, str, str]:
    pg_dump = find_tool("pg_dump")
    args, extra_env = libpq_args(url)
    connect = source.connect if source is not None else (lambda: _own_connection(url))
    try:
        with connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                command = [
                    pg_dump,
                    *args,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--no-password",  # never prompt: a missing password is an error, not a hang
                    "--lock-wait-timeout=120s",
                    f"--file={path}",
                ]
                process = subprocess.Popen(
                    command,
                    env={**os.environ, **extra_env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                # Read stderr on a thread so pg_dump never blocks on a full pipe while we count rows.
                stderr: list[str] = []
                reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)
                reader.start()
                try:
                    tables = fingerprint_tables(conn)
                finally:
                    returncode = process.wait()
                    reader.join()
                if returncode != 0:
                    raise _tool_failure("pg_dump", returncode, "".join(stderr), url)
    except BackupError:
        path.unlink(missing_ok=True)
        raise
    except sa.exc.DBAPIError as exc:
        path.unlink(missing_ok=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise BackupError(
            f"The central store {safe_url(url)} could not be read for the backup: "
            f"{scrub(reason[0] if reason else type(exc).__name__, url)}. Check that the database server is running "
            "and reachable, and the URL's host, port, database name and credentials."
        ) from None
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return tables, tool_version(pg_dump), snapshot


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"The central store {safe_url(url)} is not a SQLite file; only a file can be backed up.")
    path = Path(database).expanduser()
    if not path.is_file():
        raise BackupError(
            f"The central store's SQLite file {path} does not exist: nothing to back up. Check OPS_CENTRAL_STORE_URL "
            "(or OPS_DATA_DIR), or run a job that writes the central store first."
        )
    return path


def _backup_sqlite(url: str, path: Path) -> tuple[dict, str]:
    source_path = _sqlite_path(url)
    try:
        source = sqlite3.connect(source_path, timeout=30)
        try:
            target = sqlite3.connect(path)
            try:
                # Pages in steps, so writers are not held off for the whole copy; the copy restarts by itself if
                # the source changes meanwhile, and the result is one consistent snapshot.
                source.backup(target, pages=4096)
                # The copy inherits WAL mode; a rollback journal keeps it one self-contained file that reading
                # it (counts now, the drill later) leaves unchanged.
                target.execute("PRAGMA journal_mode = DELETE")
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        path.unlink(missing_ok=True)
        raise BackupError(f"The SQLite online backup of {source_path} failed: {exc}.") from None
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tables = fingerprint_tables(conn)
    finally:
        engine.dispose()
    return tables, f"sqlite3 {sqlite3.sqlite_version} online backup API"


# ------------------------------------------------------------------------------------------------- storing it


@dataclass(frozen=True)
class StoredBackup:
    manifest: Manifest
    dump_key: str
    manifest_key: str
    replaced: list[str]
    """Keys of the day's earlier backup (a rerun), deleted once the new manifest was written."""


def read_manifest(objects: ObjectStoreLike, day: date) -> Manifest | None:
    try:
        data = objects.get_bytes(manifest_key(day))
    except KeyError:  # ObjectNotFoundError
        return None
    try:
        return Manifest.from_bytes(data)
    except ManifestError:
        return None


def store_backup(objects: ObjectStoreLike, backup: LocalBackup) -> StoredBackup:
    """Upload the dump and its ``.sha256``, then the manifest (last: only now is the day's backup complete).

    A failure before the manifest is written deletes what this call uploaded and leaves the day's previous backup
    (if any) as it was. After the manifest is written, only the files named by the manifest it replaced (read
    before uploading) are deleted: never a file another run of the same day is still uploading, which deleting
    "everything else under the day's prefix" did (two overlapping runs could each delete the other's dump and
    leave a manifest naming a missing file). The job's tag concurrency limit of 1 keeps such runs apart anyway.
    """
    manifest = backup.manifest
    prefix = day_prefix(manifest.day)
    dump_key = manifest.dump_key
    sum_key = prefix + checksum_file_name(manifest.dump_file)
    previous = read_manifest(objects, manifest.day)
    written: list[str] = []
    try:
        written.append(dump_key)
        objects.upload_file(backup.path, dump_key)
        written.append(sum_key)
        objects.put_bytes(sum_key, checksum_line(manifest.sha256, manifest.dump_file))
        objects.put_bytes(manifest.manifest_key, manifest.to_bytes())
    except Exception as exc:
        for key in written:
            try:
                objects.delete(key)
            except Exception:  # best effort: a leftover without a manifest is never taken for a backup
                logger.warning("Could not delete the partial upload %s", key)
        raise BackupError(
            f"Storing the backup at {objects.uri(dump_key)} failed: {type(exc).__name__}: {exc}. Nothing of this run "
            "is marked complete and the day's previous backup, if any, is unchanged. Check the object store "
            "(bucket exists, permissions, free space) and run the partition again."
        ) from exc
    keep = {dump_key, sum_key, manifest.manifest_key}
    replaced: list[str] = []
    if previous is not None:
        named = {previous.dump_key, day_prefix(previous.day) + checksum_file_name(previous.dump_file)}
        replaced = sorted(named - keep)
    for key in replaced:  # deleting a key that is gone already (an overlapping run's doing) is a no-op
        objects.delete(key)
    return StoredBackup(manifest, dump_key, manifest.manifest_key, replaced)


def prune_backups(objects: ObjectStoreLike, keep: int) -> list[str]:
    """Delete the objects of backups older than the ``keep`` newest complete ones; return their keys."""
    plan = plan_prune((info.key for info in objects.list(PREFIX)), keep)
    for key in plan.delete_keys:
        objects.delete(key)
    return plan.delete_keys


def backup_central_store(
    url: str,
    objects: ObjectStoreLike,
    *,
    day: date,
    keep: int,
    source: ConnectionSource | None = None,
    now: datetime | None = None,
    workdir: Path | None = None,
) -> tuple[StoredBackup, list[str]]:
    """Take, store and prune: the whole nightly backup. Returns the stored backup and the pruned keys."""
    now = now or datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="central-backup-", dir=workdir) as tmp:
        local = take_backup(url, source, Path(tmp), day, now)
        stored = store_backup(objects, local)
    pruned = prune_backups(objects, keep)
    return stored, pruned
