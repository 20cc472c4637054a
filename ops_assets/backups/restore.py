"""The restore drill: read the newest complete backup back, restore it into a scratch database and compare.

Plain functions, no Dagster (the asset check in ``checks.py`` calls :func:`run_drill`).

1. The newest day under ``backups/central/`` with a manifest; its manifest must be readable.
2. Download the dump it names; its sha256 and size must match the manifest (a mismatch stops here: a corrupt dump
   is never restored).
3. Restore: PostgreSQL into a new database on the central store's own server, named
   ``ops_restore_drill_<YYYYMMDD>_<random>``, with ``pg_restore --exit-on-error`` (dropped afterwards, whatever
   happened); SQLite: the downloaded file itself, after ``PRAGMA integrity_check``.
4. Every table's row count and key checksum (``fingerprint``) must equal the manifest's.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from ops_assets.backups.dump import (
    BackupError,
    ObjectStoreLike,
    backend,
    find_tool,
    libpq_args,
    safe_url,
    scrub,
)
from ops_assets.backups.fingerprint import fingerprint_tables
from ops_assets.backups.manifest import (
    PREFIX,
    Manifest,
    ManifestError,
    compare_tables,
    complete_days,
    manifest_key,
    sha256_file,
)

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "ops_restore_drill_"


@dataclass
class DrillReport:
    """What the drill found. ``passed`` only when every step ran and every table matched."""

    passed: bool = False
    day: str | None = None
    dump_uri: str | None = None
    problems: list[str] = field(default_factory=list)
    tables_checked: int = 0
    rows_checked: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    scratch_database: str | None = None

    @property
    def summary(self) -> str:
        if self.passed:
            return (
                f"The backup of {self.day} restores: {self.tables_checked} tables, {self.rows_checked} rows, counts "
                "and key checksums as at dump time."
            )
        return f"The backup of {self.day or '(none)'} failed its restore drill: " + "; ".join(self.problems)


class DrillFailure(Exception):
    """A step of the drill failed; the message is the problem as the report and the alert show it."""


def newest_manifest(objects: ObjectStoreLike) -> Manifest:
    """The manifest of the newest complete backup; :class:`DrillFailure` when there is none or it is unreadable."""
    days = complete_days(info.key for info in objects.list(PREFIX))
    if not days:
        raise DrillFailure(
            f"there is no complete backup under {objects.uri(PREFIX)} (no day folder has a manifest.json): "
            "materialize central_store_backup for today's partition and look at that run's error"
        )
    key = manifest_key(days[0])
    try:
        return Manifest.from_bytes(objects.get_bytes(key))
    except ManifestError as exc:
        raise DrillFailure(f"{objects.uri(key)}: {exc}") from None


def download_verified(objects: ObjectStoreLike, manifest: Manifest, workdir: Path) -> Path:
    path = workdir / manifest.dump_file
    uri = objects.uri(manifest.dump_key)
    try:
        objects.download_file(manifest.dump_key, path)
    except KeyError:
        raise DrillFailure(f"the dump {uri} named by the manifest is missing from the object store") from None
    sha256, size = sha256_file(path)
    if sha256 != manifest.sha256 or size != manifest.size_bytes:
        raise DrillFailure(
            f"the dump {uri} is corrupt: sha256 {sha256} ({size} bytes) where the manifest recorded "
            f"{manifest.sha256} ({manifest.size_bytes} bytes); it was not restored"
        )
    return path


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def scratch_name() -> str:
    return f"{SCRATCH_PREFIX}{time.strftime('%Y%m%d', time.gmtime())}_{secrets.token_hex(4)}"


def stale_scratch_databases(names: Iterable[str], today: date | None = None) -> list[str]:
    """Scratch databases of drills from before yesterday (UTC): left by a killed drill, never in use any more."""
    today = today or datetime.now(UTC).date()
    stale = []
    for name in names:
        match = re.fullmatch(SCRATCH_PREFIX + r"(\d{8})_[0-9a-f]+", name)
        if match:
            try:
                day = datetime.strptime(match[1], "%Y%m%d").date()
            except ValueError:
                continue
            if day < today - timedelta(days=1):
                stale.append(name)
    return sorted(stale)


@contextmanager
def scratch_postgres(url: str, name: str) -> Iterator[str]:
    """A new, empty database ``name`` on the server of ``url``; yields its URL and drops it afterwards."""
    admin_url = make_url(url).set(database="postgres")
    admin = sa.create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                for stale in stale_scratch_databases(conn.exec_driver_sql("SELECT datname FROM pg_database").scalars()):
                    logger.warning("Dropping the scratch database %s left by an interrupted drill", stale)
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.DBAPIError as exc:
            reason = scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], url)
            raise DrillFailure(
                f"could not create the scratch database {name} on {safe_url(str(admin_url))}: {reason} (the central "
                "store's user needs the CREATEDB privilege for the drill: ALTER ROLE <user> CREATEDB)"
            ) from None
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            # A failing drop must not replace the drill's own error (a failed restore or comparison) with its own:
            # it is logged, and a later drill drops the database once it is stale.
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except sa.exc.SQLAlchemyError as exc:
                reason = scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], url)
                logger.warning(
                    "Could not drop the scratch database %s on %s: %s (a later drill drops it once it is older "
                    "than yesterday, or drop it by hand)",
                    name,
                    safe_url(str(admin_url)),
                    reason,
                )
    finally:
        admin.dispose()


def pg_restore_into(url: str, dump: Path, jobs: int) -> None:
    pg_restore = find_tool("pg_restore")
    args, extra_env = libpq_args(url)
    command = [
        pg_restore,
        *args,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--no-password",
        f"--jobs={max(1, jobs)}",
        str(dump),
    ]
    result = subprocess.run(command, env={**os.environ, **extra_env}, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in scrub(result.stderr, url).splitlines() if line.strip()]
        raise DrillFailure(f"pg_restore failed (exit code {result.returncode}): {' | '.join(lines[-5:])}")


def sqlite_integrity(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DrillFailure(f"the SQLite backup does not open as a database: {exc}") from None
    if verdict != [("ok",)]:
        raise DrillFailure(f"PRAGMA integrity_check on the SQLite backup: {'; '.join(r[0] for r in verdict[:5])}")


def run_drill(objects: ObjectStoreLike, url: str, *, workdir: Path | None = None, jobs: int = 2) -> DrillReport:
    """Restore the newest complete backup into a scratch database and compare it with its manifest.

    ``url`` is the central store's URL: a PostgreSQL backup is restored on that server. Never raises for a
    failed drill: the report says what failed (a tool missing included).
    """
    report = DrillReport()
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        report.seconds[name] = round(now - started, 3)
        started = now

    try:
        manifest = newest_manifest(objects)
        report.day = manifest.day.isoformat()
        report.dump_uri = objects.uri(manifest.dump_key)
        with tempfile.TemporaryDirectory(prefix="central-restore-drill-", dir=workdir) as tmp:
            dump = download_verified(objects, manifest, Path(tmp))
            lap("download_and_verify")
            if manifest.engine == "postgresql":
                if backend(url) != "postgresql":
                    raise DrillFailure(
                        f"the backup is a PostgreSQL dump but the central store {safe_url(url)} is not PostgreSQL: "
                        "there is no server to restore it on"
                    )
                report.scratch_database = scratch_name()
                with scratch_postgres(url, report.scratch_database) as scratch_url:
                    pg_restore_into(scratch_url, dump, jobs)
                    lap("restore")
                    with _engine(scratch_url) as engine, engine.connect() as conn:
                        restored = fingerprint_tables(conn)
                    lap("compare")
            else:
                sqlite_integrity(dump)
                lap("restore")
                with _engine(f"sqlite:///{dump}") as engine, engine.connect() as conn:
                    restored = fingerprint_tables(conn)
                lap("compare")
        report.problems = compare_tables(manifest.tables, restored)
        report.tables_checked = len(restored)
        report.rows_checked = sum(t.rows for t in restored.values())
        report.passed = not report.problems
    except (DrillFailure, BackupError) as exc:
        report.problems.append(str(exc))
    except sa.exc.DBAPIError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        report.problems.append(
            f"the database failed during the drill: {scrub(reason[0] if reason else type(exc).__name__, url)}"
        )
    except Exception as exc:  # an object store or disk error: still a failed drill, and still an alert
        logger.exception("The restore drill stopped on an unexpected error")
        report.problems.append(f"the drill stopped on {type(exc).__name__}: {scrub(str(exc), url)}")
    return report


def alert_text(report: DrillReport, *, store: str) -> tuple[str, str]:
    """Subject and body of the failed-drill alert: what failed, and what to do (docs/OPERATIONS.md)."""
    subject = f"Backup restore drill failed ({report.day or 'no backup'})"
    lines = [
        f"The nightly restore drill could not restore the central store backup of {report.day or '(none found)'}.",
        f"Dump: {report.dump_uri or '(none)'}",
        f"Central store: {store}",
        "",
        "What failed:",
        *(f"- {problem}" for problem in report.problems),
        "",
        "A backup that cannot be read back is not a backup. What to do now:",
        "1. Take a fresh backup: materialize central_store_backup for today's partition (UI: Assets > "
        "central_store_backup > Materialize), and see whether its restore_drill check passes.",
        "2. If the fresh one fails too, the cause is the tools or the server (pg_dump/pg_restore versions, "
        "CREATEDB privilege, disk space): see the check's output in the run.",
        "3. Until a drill passes, restore by hand only from an older day that verifies (sha256sum -c).",
        "Runbook: docs/OPERATIONS.md, 'Alert: backup restore drill failed' and 'Restore by hand'.",
    ]
    return subject, "\n".join(lines)
