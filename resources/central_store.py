"""Central store: the event pipeline's SQL database (PostgreSQL with ``OPS_ENV=aws``, SQLite locally).

The schema lives here as SQLAlchemy Core tables; Alembic migrations in ``resources/central_store_migrations``
create and change it and are applied automatically the first time a :class:`CentralStore` is used, so a fresh
database never needs a manual step. Writers use :meth:`CentralStore.upsert` on each table's natural key, which
makes every minutely/5-minutely re-run idempotent.

Tables and their natural keys:

- ``inbound_events_raw``: one row per RSS item; key ``event_uid`` (UNIQUE). ``processed_at`` stays NULL until
  the FinBERT worker classified the item (partial index ``ix_inbound_events_raw_unprocessed``).
- ``inbound_events_classified``: one row per classified item; key ``event_uid`` (UNIQUE, FK to the raw event).
- ``feed_state``: one row per feed; key ``feed_name`` (PK). HTTP validators (etag/last-modified) and health.
- ``lane_telemetry``: 5-minute OHLCV bars; key ``(ticker, ts)`` (PK).
- ``dispatch_recommendations``: BUY/SELL recommendations; key ``input_fingerprint`` (UNIQUE), a hash of the
  inputs, so the signal engine re-run on the same inputs produces no second recommendation.
- ``dispatch_executions``: dry-run fills; key ``recommendation_id`` (UNIQUE FK): a recommendation executes once.
- ``dispatch_status_history``: append-only audit of every recommendation status change; surrogate ``id``.

Timestamps are stored in UTC and always come back timezone-aware (UTC), on PostgreSQL and SQLite alike; naive
datetimes written are taken to be UTC. JSON columns are ``jsonb`` on PostgreSQL and JSON text on SQLite.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
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
# Schema
# --------------------------------------------------------------------------------------------------------------


class UtcDateTime(sa.TypeDecorator):
    """``TIMESTAMP WITH TIME ZONE`` that stores UTC and always returns aware UTC datetimes (SQLite included).

    Naive datetimes are taken to be UTC; aware ones are converted to UTC before they are written.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"Expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC) if dialect.name != "sqlite" else value
        value = value.astimezone(UTC)
        # SQLite has no time zones: store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Surrogate keys: BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY (the rowid alias) on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

RECOMMENDATION_STATUSES = ("PENDING", "EXECUTED", "REJECTED", "FAILED", "CANCELLED")
ACTIONS = ("BUY", "SELL")
FEED_STATUSES = ("ok", "not_modified", "error")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

inbound_events_raw = sa.Table(
    "inbound_events_raw",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_uid", sa.Text, nullable=False, comment="Stable item id: the feed's guid, else a link hash"),
    sa.Column("feed_name", sa.Text, nullable=False),
    sa.Column("source_url", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("link", sa.Text),
    sa.Column("summary", sa.Text),
    sa.Column("published_at", UtcDateTime),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
    sa.Column("processed_at", UtcDateTime, comment="NULL until the sentiment worker classified the item"),
    sa.Column("raw", Json),
    sa.UniqueConstraint("event_uid"),
    sa.Index(
        "ix_inbound_events_raw_unprocessed",
        "id",
        postgresql_where=sa.text("processed_at IS NULL"),
        sqlite_where=sa.text("processed_at IS NULL"),
    ),
    sa.Index(None, "published_at"),
)

inbound_events_classified = sa.Table(
    "inbound_events_classified",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "event_uid",
        sa.Text,
        sa.ForeignKey("inbound_events_raw.event_uid", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("sentiment_label", sa.Text, nullable=False, comment="positive / negative / neutral"),
    sa.Column("sentiment_score", sa.Float, nullable=False, comment="P(positive) - P(negative), in [-1, 1]"),
    sa.Column("confidence", sa.Float, nullable=False, comment="Probability of the winning label"),
    sa.Column("model_name", sa.Text, nullable=False),
    sa.Column("tickers", Json, nullable=False, comment="JSON list of ticker symbols mentioned"),
    sa.Column("classified_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("event_uid"),
    sa.Index(None, "classified_at"),
)

feed_state = sa.Table(
    "feed_state",
    metadata,
    sa.Column("feed_name", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text, comment="The feed's Last-Modified header, verbatim"),
    sa.Column("last_polled_at", UtcDateTime),
    sa.Column("last_success_at", UtcDateTime),
    sa.Column("last_status", sa.Text),
    sa.Column("last_error", sa.Text),
    sa.Column("items_seen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint(f"last_status IS NULL OR {_in('last_status', FEED_STATUSES)}", name="last_status"),
)

lane_telemetry = sa.Table(
    "lane_telemetry",
    metadata,
    sa.Column("ticker", sa.Text, primary_key=True),
    sa.Column("ts", UtcDateTime, primary_key=True, comment="Start of the 5-minute bar, UTC"),
    sa.Column("open", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("close", sa.Float, nullable=False),
    sa.Column("volume", sa.Float, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
)

dispatch_recommendations = sa.Table(
    "dispatch_recommendations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ticker", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("sentiment_score", sa.Float),
    sa.Column("article_count", sa.Integer),
    sa.Column("price", sa.Float),
    sa.Column("sma20", sa.Float),
    sa.Column("status", sa.Text, nullable=False, server_default="PENDING"),
    sa.Column("status_reason", sa.Text),
    sa.Column("status_changed_at", UtcDateTime),
    sa.Column("input_fingerprint", sa.Text, nullable=False, comment="Hash of the inputs: same inputs, one row"),
    sa.UniqueConstraint("input_fingerprint"),
    sa.CheckConstraint(_in("action", ACTIONS), name="action"),
    sa.CheckConstraint(_in("status", RECOMMENDATION_STATUSES), name="status"),
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "ticker", "created_at"),
)

dispatch_executions = sa.Table(
    "dispatch_executions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("recommendation_id", BigId, sa.ForeignKey("dispatch_recommendations.id"), nullable=False),
    sa.Column("ticker", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("fill_price", sa.Float, nullable=False),
    sa.Column("notional", sa.Float, nullable=False),
    sa.Column("dry_run", sa.Boolean(create_constraint=False), nullable=False, server_default=sa.true()),
    sa.Column("executed_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("recommendation_id"),
    sa.CheckConstraint(_in("action", ACTIONS), name="action"),
    sa.Index(None, "executed_at"),
)

dispatch_status_history = sa.Table(
    "dispatch_status_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("recommendation_id", BigId, sa.ForeignKey("dispatch_recommendations.id"), nullable=False),
    sa.Column("from_status", sa.Text, comment="NULL for the first status"),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("changed_at", UtcDateTime, nullable=False),
    sa.Index(None, "recommendation_id", "changed_at"),
)

TABLES: tuple[sa.Table, ...] = (
    inbound_events_raw,
    inbound_events_classified,
    feed_state,
    lane_telemetry,
    dispatch_recommendations,
    dispatch_executions,
    dispatch_status_history,
)


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
