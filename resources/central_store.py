"""Central store: the event pipeline's SQL database (PostgreSQL with ``OPS_ENV=aws``, SQLite locally).

The schema is in :mod:`resources.central_schema`; Alembic migrations in ``resources/central_store_migrations``
create and change it and are applied automatically the first time a :class:`CentralStore` is used, so a fresh
database never needs a manual step. Writers use :meth:`CentralStore.upsert` on each table's natural key, which
makes every minutely/5-minutely re-run idempotent.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

MIGRATIONS_DIR = Path(__file__).with_name("central_store_migrations")

# Arbitrary constant: the PostgreSQL advisory-lock key that serialises schema upgrades across processes.
MIGRATION_LOCK_KEY = 0x0C3E_7A15_0001

# Rows per INSERT statement; lowered for wide tables so a statement stays under the bound-parameter limits
# (PostgreSQL 65,535; SQLite 32,766).
DEFAULT_BATCH_SIZE = 1000
_MAX_PARAMETERS = 30_000


class CentralStoreError(RuntimeError):
    """Base class for central-store errors raised by this module."""


class CentralStoreUnavailableError(CentralStoreError):
    """The database cannot be reached (down, wrong host/port/credentials, or the connection dropped)."""


# --------------------------------------------------------------------------------------------------------------
# Resource
# --------------------------------------------------------------------------------------------------------------


def safe_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``: the only form in which a URL is ever shown."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _scrub(text: str, url: str) -> str:
    try:
        password = make_url(url).password
    except Exception:
        password = None
    return text.replace(str(password), "***") if password else text


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, issue BEGIN (see _sqlite_begin): DDL becomes transactional and
    # a write transaction can take the write lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # WAL is a property of the file, set once. Switching needs an exclusive lock and SQLite answers "database
        # is locked" at once (no busy wait) while another connection is creating the file: retry for a while.
        deadline = time.monotonic() + 30
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() not in ("wal", "memory"):
            while True:
                try:
                    cursor.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock at once (waiting up to busy_timeout), so two writers queue instead
    # of one failing with "database is locked" when a deferred read transaction tries to upgrade.
    mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_write", False) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


class CentralStore(dg.ConfigurableResource):
    """The event pipeline's SQL database (seed 002): raw and classified news, feed state, 5-minute telemetry,
    recommendations and dry-run executions.

    ``url`` is a SQLAlchemy URL: ``sqlite:///.local_data/central.db`` locally,
    ``postgresql+psycopg2://user:pw@host:5432/ops`` in AWS. Configure it with ``dg.EnvVar(...)`` so the password
    never appears in run config; this resource only ever shows the URL with the password hidden.
    The schema is migrated to the latest revision automatically on first use.
    """

    url: str

    _state: dict[str, Any] = PrivateAttr(default_factory=dict)
    _lock: Any = PrivateAttr(default_factory=threading.RLock)

    # -- presentation -------------------------------------------------------------------------------------------

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden."""
        return safe_url(self.url)

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield (name, self.safe_url) if name == "url" else (name, value)

    # -- engine and connections ---------------------------------------------------------------------------------

    def _raw_engine(self) -> Engine:
        with self._lock:
            engine = self._state.get("engine")
            if engine is None:
                engine = self._create_engine()
                self._state["engine"] = engine
            return engine

    def _create_engine(self) -> Engine:
        try:
            url = make_url(self.url)
        except Exception:
            raise CentralStoreError(
                "The central store URL is not a valid SQLAlchemy URL (expected sqlite:///path/to/file.db or "
                "postgresql+psycopg2://user:password@host:5432/dbname)."
            ) from None
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
                Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, pool_pre_ping=True)
            sa.event.listen(engine, "connect", _sqlite_connect)
            sa.event.listen(engine, "begin", _sqlite_begin)
            return engine
        connect_args = {"connect_timeout": 10} if url.get_backend_name() == "postgresql" else {}
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)

    def engine(self) -> Engine:
        """The SQLAlchemy engine (one per resource instance), with the schema migrated to the latest revision."""
        engine = self._raw_engine()
        if not self._state.get("schema_ready"):
            with self._lock:
                if not self._state.get("schema_ready"):
                    self.ensure_schema()
        return engine

    def _unavailable(self, exc: BaseException) -> CentralStoreUnavailableError:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        detail = _scrub(reason[0] if reason else type(exc).__name__, self.url)
        return CentralStoreUnavailableError(
            f"Central store {self.safe_url} is unavailable: {detail}. Check that the database server is running "
            "and reachable from here and that the URL's host, port, database name and credentials are right "
            "(OPS_ENV=aws: the RDS instance, its security group and the secret; local: the SQLite file's folder "
            "must be writable), then run again."
        )

    @contextmanager
    def _connection(self, engine: Engine, *, write: bool) -> Iterator[Connection]:
        # Any failure to connect means the database is unavailable. Once connected, only errors that lost the
        # connection are; others (constraint violations, deadlocks, SQLite "database is locked") pass through.
        try:
            conn = engine.connect()
        except DBAPIError as exc:
            raise self._unavailable(exc) from None
        with conn:
            if write and conn.dialect.name == "sqlite":
                conn.execution_options(sqlite_write=True)
            try:
                yield conn
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise self._unavailable(exc) from None
                raise

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads or your own transaction handling (``conn.commit()``); see also :meth:`begin`.

        Raises :class:`CentralStoreUnavailableError` when the database cannot be reached.
        """
        with self._connection(self.engine(), write=False) as conn:
            yield conn

    @contextmanager
    def begin(self, *, write: bool = True) -> Iterator[Connection]:
        """A connection in a transaction, committed when the block ends, rolled back on error.

        ``write=True`` takes SQLite's write lock at BEGIN, so concurrent writers queue (up to the 30 s busy
        timeout) instead of failing; it makes no difference on PostgreSQL. Raises
        :class:`CentralStoreUnavailableError` when the database cannot be reached or the connection drops.
        """
        with self._connection(self.engine(), write=write) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        """Close pooled connections (the engine is rebuilt on next use)."""
        with self._lock:
            engine = self._state.pop("engine", None)
            self._state.pop("schema_ready", None)
        if engine is not None:
            engine.dispose()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.dispose()

    # -- schema -------------------------------------------------------------------------------------------------

    def alembic_config(self) -> Any:
        """An Alembic ``Config`` for the bundled migrations; no alembic.ini is needed."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # Used only when env.py has to open its own connection (the alembic CLI); escape % for ConfigParser.
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config

    def ensure_schema(self) -> list[str]:
        """Upgrade the database to the latest migration; return the revisions applied (empty when current).

        Safe to call from several processes at once: on PostgreSQL the upgrade runs in one transaction holding
        ``pg_advisory_xact_lock``; on SQLite it runs in one ``BEGIN IMMEDIATE`` transaction (the write lock).
        The second caller waits, then finds the schema current and applies nothing.
        """
        from alembic import command

        engine = self._raw_engine()
        config = self.alembic_config()
        applied: list[str] = []
        config.attributes["applied_revisions"] = applied
        with self._lock:
            with self._connection(engine, write=True) as conn, conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
            self._state["schema_ready"] = True
        if applied:
            dg.get_dagster_logger().info(f"Central store {self.safe_url}: applied migrations {', '.join(applied)}")
        return applied

    def current_revision(self) -> str | None:
        """The revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self._connection(self._raw_engine(), write=False) as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # -- writes -------------------------------------------------------------------------------------------------

    def upsert(
        self,
        table: sa.Table,
        rows: Sequence[Mapping[str, Any]],
        *,
        key: Sequence[str],
        update: Sequence[str] | None = None,
        conn: Connection | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> int:
        """Insert ``rows`` into ``table``; on a conflict on ``key`` skip the row, or overwrite ``update`` columns.

        One ``INSERT ... ON CONFLICT (key) DO NOTHING | DO UPDATE SET col = excluded.col`` statement per batch,
        all batches in one transaction (all or nothing); pass ``conn`` to join a transaction of your own.
        ``key`` must be the columns of a primary key or unique constraint. ``update=None`` (or empty) means
        DO NOTHING. Rows repeating a key within the call are collapsed first (DO NOTHING keeps the first,
        DO UPDATE the last), as PostgreSQL cannot touch one row twice in one statement. Every row must have
        the same columns. Returns the number of rows inserted or updated.
        """
        key = list(key)
        update = list(update or [])
        if not key:
            raise ValueError("upsert needs the conflict key columns (a primary key or unique constraint).")
        unknown = [c for c in [*key, *update] if c not in table.c]
        if unknown:
            raise ValueError(f"Columns {unknown} are not in table {table.name}.")
        if not rows:
            return 0
        columns = list(rows[0].keys())
        column_set = set(columns)
        for index, row in enumerate(rows):
            if set(row.keys()) != column_set:
                raise ValueError(
                    f"Row {index} for {table.name} has columns {sorted(row.keys())}, row 0 has {sorted(columns)}: "
                    "every row of one upsert must have the same columns."
                )
        missing = [c for c in [*key, *update] if c not in column_set]
        if missing:
            raise ValueError(f"The rows for {table.name} lack the key/update columns {missing}.")

        deduped = _collapse(rows, key, keep_last=bool(update))
        size = max(1, min(batch_size, _MAX_PARAMETERS // max(1, len(columns))))

        def write(connection: Connection) -> int:
            dialect = connection.dialect.name
            if dialect == "postgresql":
                insert = postgresql.insert
            elif dialect == "sqlite":
                insert = sqlite.insert
            else:
                raise CentralStoreError(f"Upsert is not implemented for the {dialect} dialect.")
            # One cached statement executed over each batch. With RETURNING, SQLAlchemy's "insertmanyvalues"
            # sends it as multi-row INSERTs (plain executemany would be one round trip per row on psycopg2),
            # and the returned keys count the rows actually inserted or updated.
            stmt = insert(table)
            if update:
                stmt = stmt.on_conflict_do_update(index_elements=key, set_={c: stmt.excluded[c] for c in update})
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=key)
            stmt = stmt.returning(*(table.c[k] for k in key))
            total = 0
            for start in range(0, len(deduped), size):
                result = connection.execute(stmt, [dict(r) for r in deduped[start : start + size]])
                total += len(result.all())
            return total

        if conn is not None:
            return write(conn)
        with self.begin() as connection:
            return write(connection)


def _collapse(rows: Sequence[Mapping[str, Any]], key: Sequence[str], *, keep_last: bool) -> list[Mapping[str, Any]]:
    """Drop rows whose key repeats an earlier (DO NOTHING) or later (DO UPDATE) row; NULL keys never collide."""
    seen: dict[tuple[Any, ...], int] = {}
    out: list[Mapping[str, Any] | None] = []
    for row in rows:
        values = tuple(row[c] for c in key)
        if any(v is None for v in values):
            out.append(row)
            continue
        if values in seen:
            if keep_last:
                out[seen[values]] = None
                seen[values] = len(out)
                out.append(row)
            continue
        seen[values] = len(out)
        out.append(row)
    return [r for r in out if r is not None]
