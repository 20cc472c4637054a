"""The central store's schema: SQLAlchemy Core tables, no Dagster (plain modules import it at the top).

Alembic migrations in ``resources/central_store_migrations`` create and change these tables; the resource
(:class:`resources.central_store.CentralStore`) applies them before first use.

Tables and their natural keys:

- ``inbound_events_raw``: one row per RSS item; key ``event_uid`` (UNIQUE). ``processed_at`` stays NULL until
  the sentiment worker classified the item (partial index ``ix_inbound_events_raw_unprocessed``).
- ``inbound_events_classified``: one row per classified item; key ``event_uid`` (UNIQUE, FK to the raw event).
- ``feed_state``: one row per feed; key ``feed_name`` (PK). HTTP validators (etag/last-modified) and health.
- ``lane_telemetry``: 5-minute OHLCV bars; key ``(ticker, ts)`` (PK).
- ``dispatch_recommendations``: BUY/SELL recommendations; key ``input_fingerprint`` (UNIQUE), a hash of the
  inputs, so the signal engine re-run on the same inputs produces no second recommendation.
- ``dispatch_executions``: dry-run fills; key ``recommendation_id`` (UNIQUE FK): a recommendation executes once.
- ``dispatch_status_history``: append-only audit of every recommendation status change; surrogate ``id``.
- ``kill_switch_events``: append-only audit of the dispatcher's kill switch (migration 0003): TRIPPED and
  REMINDED (what was alerted, when) and RESET (operator, reason, time); surrogate ``id``.

Timestamps are stored in UTC and always come back timezone-aware (UTC), on PostgreSQL and SQLite alike; naive
datetimes written are taken to be UTC. JSON columns are ``jsonb`` on PostgreSQL and JSON text on SQLite.

:class:`SqlStore` is what a plain module needs of a store (connections, transactions, upserts): the resource
implements it, and tests can pass anything that does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection


class SqlStore(Protocol):
    """The part of the central store plain modules use: read connections, write transactions, upserts."""

    def connect(self) -> AbstractContextManager[Connection]: ...

    def begin(self, *, write: bool = True) -> AbstractContextManager[Connection]: ...

    def upsert(
        self,
        table: sa.Table,
        rows: Sequence[Mapping[str, Any]],
        *,
        key: Sequence[str],
        update: Sequence[str] | None = None,
        conn: Connection | None = None,
    ) -> int: ...


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

RECOMMENDATION_STATUSES = ("PENDING", "EXECUTED", "REJECTED", "FAILED", "CANCELLED", "EXPIRED")
KILL_SWITCH_EVENTS = ("TRIPPED", "REMINDED", "RESET")
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

kill_switch_events = sa.Table(
    "kill_switch_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event", sa.Text, nullable=False, comment="TRIPPED, REMINDED or RESET"),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, comment="Why it tripped, or the operator's reason to reset"),
    sa.Column("operator", sa.Text, comment="Who reset it (RESET only)"),
    sa.Column("run_id", sa.Text, comment="The Dagster run that recorded the event"),
    sa.CheckConstraint(_in("event", KILL_SWITCH_EVENTS), name="event"),
    sa.CheckConstraint("event <> 'RESET' OR (operator IS NOT NULL AND operator <> '')", name="reset_operator"),
    sa.Index(None, "event", "at"),
    sa.Index(None, "at"),
)

TABLES: tuple[sa.Table, ...] = (
    inbound_events_raw,
    inbound_events_classified,
    feed_state,
    lane_telemetry,
    dispatch_recommendations,
    dispatch_executions,
    dispatch_status_history,
    kill_switch_events,
)


# --------------------------------------------------------------------------------------------------------------
# Trading-desk feed history (issue 9; ``resources/desk_history.py``, migration 0002)
#
# The same shape as the seed's DynamoDB tables, one row per natural key (upserts, last write wins):
#
# - ``desk_market_history``: Actant market data; key ``(instrument_id, timestamp)``, ``timestamp`` being the
#   data's own time in epoch milliseconds (not the processing time, as in the seed's Lambda).
# - ``desk_eod_history``: end-of-day positions and greeks; key ``(instrument_id, timestamp)``.
# - ``desk_sod_history``: start-of-day positions; key ``(account_date, instrument_id)``, ``account_date`` being
#   ``<account>#<YYYY-MM-DD>``.
# - ``desk_order_snapshots``: TT working orders per snapshot; key ``(order_id, timestamp)`` (snapshot time, epoch
#   ms); ``expire_time`` (epoch seconds, snapshot + 7 days) is DynamoDB's TTL, done here by
#   ``CentralStoreDeskHistory.prune_expired``.
#
# Every row carries the object key it came from (``source_key``, indexed: history rows per file are counted
# against the file's rows) and, for the Actant files, its ETag and arrival time.
# --------------------------------------------------------------------------------------------------------------


class ExactDecimal(sa.TypeDecorator):
    """A ``Decimal`` stored exactly: ``NUMERIC`` (unconstrained) on PostgreSQL, the decimal's text on SQLite.

    SQLite's NUMERIC affinity would turn ``"0.1"`` into a REAL (15 significant digits at most), so SQLite keeps
    the text; values come back as the ``Decimal`` written on both. Floats, NaN and infinities are refused.
    """

    impl = sa.Numeric(asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"Expected a Decimal, got {type(value).__name__}: {value!r}")
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number and cannot be stored")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


desk_market_history = sa.Table(
    "desk_market_history",
    metadata,
    sa.Column("instrument_id", sa.Text, primary_key=True),
    sa.Column("timestamp", sa.BigInteger, primary_key=True, comment="The data's own time, epoch milliseconds"),
    sa.Column("price", ExactDecimal, nullable=False),
    sa.Column("bid", ExactDecimal),
    sa.Column("ask", ExactDecimal),
    sa.Column("volume", ExactDecimal),
    sa.Column("arrived_at", UtcDateTime, nullable=False, comment="When the file landed in the bucket"),
    sa.Column("source_key", sa.Text, nullable=False, comment="The bucket key of the file the row came from"),
    sa.Column("etag", sa.Text, nullable=False, comment="That file's ETag"),
    sa.Index(None, "source_key"),
)

desk_eod_history = sa.Table(
    "desk_eod_history",
    metadata,
    sa.Column("instrument_id", sa.Text, primary_key=True),
    sa.Column("timestamp", sa.BigInteger, primary_key=True, comment="The data's own time, epoch milliseconds"),
    sa.Column("account", sa.Text, nullable=False),
    sa.Column("position", ExactDecimal, nullable=False),
    sa.Column("settlement_price", ExactDecimal),
    sa.Column("delta", ExactDecimal),
    sa.Column("gamma", ExactDecimal),
    sa.Column("vega", ExactDecimal),
    sa.Column("theta", ExactDecimal),
    sa.Column("arrived_at", UtcDateTime, nullable=False, comment="When the file landed in the bucket"),
    sa.Column("source_key", sa.Text, nullable=False, comment="The bucket key of the file the row came from"),
    sa.Column("etag", sa.Text, nullable=False, comment="That file's ETag"),
    sa.Index(None, "source_key"),
)

desk_sod_history = sa.Table(
    "desk_sod_history",
    metadata,
    sa.Column("account_date", sa.Text, primary_key=True, comment="<account>#<YYYY-MM-DD>"),
    sa.Column("instrument_id", sa.Text, primary_key=True),
    sa.Column("account", sa.Text, nullable=False),
    sa.Column("position", ExactDecimal, nullable=False),
    sa.Column("avg_price", ExactDecimal),
    sa.Column("arrived_at", UtcDateTime, nullable=False, comment="When the file landed in the bucket"),
    sa.Column("source_key", sa.Text, nullable=False, comment="The bucket key of the file the row came from"),
    sa.Column("etag", sa.Text, nullable=False, comment="That file's ETag"),
    sa.Index(None, "source_key"),
)

desk_order_snapshots = sa.Table(
    "desk_order_snapshots",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("timestamp", sa.BigInteger, primary_key=True, comment="The snapshot's time, epoch milliseconds"),
    sa.Column("instrument", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("qty", ExactDecimal, nullable=False),
    sa.Column("price", ExactDecimal, comment="NULL for orders without a limit price"),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("expire_time", sa.BigInteger, nullable=False, comment="Epoch seconds: snapshot + 7 days (TTL)"),
    sa.Column("source_key", sa.Text, nullable=False, comment="The bucket key of the snapshot file"),
    sa.Index(None, "source_key"),
    sa.Index(None, "expire_time"),
)

DESK_HISTORY_TABLES: tuple[sa.Table, ...] = (
    desk_market_history,
    desk_eod_history,
    desk_sod_history,
    desk_order_snapshots,
)

TABLES = (*TABLES, *DESK_HISTORY_TABLES)
