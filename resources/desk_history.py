"""Trading-desk feed history: Actant market data, EOD and SOD rows and TT working-order snapshots.

One interface, :class:`DeskHistory`, two implementations with the same behaviour:

- :class:`DynamoDbDeskHistory` (``OPS_ENV=aws``): the seed's DynamoDB tables ``ActantMarketData-<env>``,
  ``ActantEODData-<env>``, ``ActantSODData-<env>`` and ``TTWorkingOrders-<env>`` (TTL attribute ``expire_time``);
  boto3 honours ``AWS_ENDPOINT_URL`` (moto in tests). The production tables come from the CDK stack
  (:meth:`DynamoDbDeskHistory.table_definitions` is what it must create); :meth:`DynamoDbDeskHistory.create_tables`
  creates them for development and tests.
- :class:`CentralStoreDeskHistory` (``OPS_ENV=local``): the tables ``desk_market_history``, ``desk_eod_history``,
  ``desk_sod_history`` and ``desk_order_snapshots`` of the central store (SQLite or PostgreSQL, migration 0002),
  with the same keys; SQL has no TTL, so :meth:`DeskHistory.prune_expired` deletes expired order rows.

Rows and keys (the seed's names; the row types below):

============ ====================================== ==================================================================
kind         natural key                            row
============ ====================================== ==================================================================
``market``   ``instrument_id`` + ``timestamp``      :class:`MarketRow`: price, bid, ask, volume
``eod``      ``instrument_id`` + ``timestamp``      :class:`EodRow`: account, position, settlement_price, greeks
``sod``      ``account_date`` + ``instrument_id``   :class:`SodRow`: account, position, avg_price
``orders``   ``order_id`` + ``timestamp``           :class:`WorkingOrder` at a snapshot time, ``expire_time`` = +7 days
============ ====================================== ==================================================================

- ``timestamp`` is the **data's own time** in epoch milliseconds (the seed stamped the processing time); the
  Actant rows also keep ``arrived_at``, when their file landed in the bucket, plus the file's ``source_key``
  (bucket key) and ``etag``. An order row's ``timestamp`` is its snapshot's time, ``expire_time`` that time plus
  7 days in epoch **seconds** (what DynamoDB's TTL reads).
- ``account_date`` is ``<account>#<YYYY-MM-DD>`` (:meth:`SodRow.for_day` builds it): keyed by the date alone,
  two accounts' positions in one instrument would overwrite each other.
- Numbers are :class:`~decimal.Decimal` (ints are taken as exact decimals). A float is refused when the row is
  built, with an error naming the field: floats are inexact, and boto3 refuses them anyway. NaN and infinities are
  refused too, and so are decimals DynamoDB cannot hold (more than 38 significant digits).

Writes are **idempotent upserts on the natural key**. Rows repeating a key within one call collapse to the last
one. A key already stored takes the values written last (**last write wins**): a re-delivered S3 event or a replay
of a file rewrites identical values and adds nothing (pass the file's landing time as ``arrived_at``, not the
processing time, and a replay changes nothing at all); a corrected file re-sent by Actant replaces the rows it
restates, which from then on count for the new file's ``source_key``. One exception is refused rather than
collapsed: two EOD rows of one write with the same key but different accounts (the seed's EOD key holds one
account per instrument and time; keeping the last would silently drop the other account's position).

Each ``write_*`` returns the number of distinct keys written. On the central store a write is one transaction
(all or nothing); on DynamoDB it goes in batches of 25 and a failure may leave part of it written: write the
whole file again (idempotent).

Plain data types and validation have no Dagster in them; the two resources are Dagster resources. This module
knows no domain (``ops_assets`` is not imported).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

import boto3
import dagster as dg
import sqlalchemy as sa
from boto3.dynamodb.conditions import Key
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, PrivateAttr

from resources.central_schema import (
    desk_eod_history,
    desk_market_history,
    desk_order_snapshots,
    desk_sod_history,
)
from resources.central_store import CentralStore

HistoryKind = Literal["market", "eod", "sod", "orders"]
KINDS: tuple[str, ...] = get_args(HistoryKind)
"""The four kinds of history, named like the bucket's file kinds."""

ORDER_TTL = timedelta(days=7)
"""How long an order snapshot row is kept (``expire_time`` = snapshot time + this)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_EPOCH_MS = 100_000_000_000
"""1973-03-03 in epoch milliseconds: a smaller ``timestamp`` is almost surely epoch *seconds*, and refused."""
MAX_EPOCH_MS = 253_402_300_800_000
"""Year 10000 in epoch milliseconds (exclusive)."""
MAX_DIGITS = 38
"""DynamoDB numbers hold at most 38 significant digits (both implementations refuse more)."""

SOURCE_INDEX = "source_key-index"
"""The DynamoDB global secondary index (``source_key`` + the table's sort key, keys only) that counts a file's rows."""


class DeskHistoryError(RuntimeError):
    """Base class of the errors this module raises."""


class DeskRowError(DeskHistoryError, ValueError):
    """A row was refused (a float, NaN, a missing or unknown field, a bad key); nothing of that write was stored."""


class DeskHistoryUnavailableError(DeskHistoryError):
    """The history store cannot be used: unreachable, or a table missing."""


# --------------------------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------------------------


def _require_aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise DeskRowError(f"{name} must be a timezone-aware datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise DeskRowError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def epoch_ms(value: datetime) -> int:
    """An aware datetime as integer epoch milliseconds (exact: no float on the way)."""
    return (_require_aware(value, "the time") - EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(value: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return EPOCH + timedelta(milliseconds=value)


def _epoch_s(value: datetime) -> int:
    return (_require_aware(value, "the time") - EPOCH) // timedelta(seconds=1)


# --------------------------------------------------------------------------------------------------------------
# Row types
# --------------------------------------------------------------------------------------------------------------


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DeskRowError(f"{name} must be a non-empty string, got {type(value).__name__}: {value!r}")
    return value


def _check_decimal(name: str, value: object, *, required: bool) -> Decimal | None:
    if value is None:
        if required:
            raise DeskRowError(f"{name} is required, got None")
        return None
    if isinstance(value, float):
        raise DeskRowError(
            f"{name} is the float {value!r}: history numbers must be Decimal (floats are inexact, and boto3 refuses "
            "them); parse the file's text with Decimal(text)"
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise DeskRowError(f"{name} must be a Decimal, got {type(value).__name__}: {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise DeskRowError(f"{name} is {number}: NaN and infinities are not prices or quantities, refused")
    if number and (len(number.as_tuple().digits) > MAX_DIGITS or not -130 <= number.adjusted() <= 125):
        raise DeskRowError(f"{name} = {number} has more than {MAX_DIGITS} significant digits or is out of range")
    return number


def _check_epoch_ms(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DeskRowError(f"{name} must be an int of epoch milliseconds, got {type(value).__name__}: {value!r}")
    if not MIN_EPOCH_MS <= value < MAX_EPOCH_MS:
        hint = " (epoch seconds? it must be milliseconds)" if 0 < value < MIN_EPOCH_MS else ""
        raise DeskRowError(f"{name} = {value} is not a plausible epoch-milliseconds time{hint}")
    return value


def _check_epoch_s(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DeskRowError(f"{name} must be a non-negative int of epoch seconds, got {value!r}")
    return value


def _validate(row: object) -> None:
    """Check (and normalise: ints to Decimal, times to UTC) every field of a frozen row dataclass.

    The check follows each field's declared type: ``str`` non-empty text, ``int`` epoch milliseconds (epoch
    seconds for ``expire_time``), ``Decimal`` / ``Decimal | None`` a finite decimal, ``datetime`` an aware time.
    """
    kind = type(row).__name__
    for field in fields(row):
        name = f"{kind}.{field.name}"
        value = getattr(row, field.name)
        annotation = str(field.type)
        if annotation == "str":
            checked: object = _check_text(name, value)
        elif annotation == "int":
            checked = _check_epoch_s(name, value) if field.name == "expire_time" else _check_epoch_ms(name, value)
        elif annotation in ("Decimal", "Decimal | None"):
            checked = _check_decimal(name, value, required=annotation == "Decimal")
        elif annotation == "datetime":
            checked = _require_aware(value, name)
        else:  # pragma: no cover - a new field type must be added above
            raise TypeError(f"{name}: no check for type {annotation}")
        if checked is not value:
            object.__setattr__(row, field.name, checked)


@dataclass(frozen=True, kw_only=True)
class MarketRow:
    """One Actant market-data row: ``timestamp`` is the data's own time (epoch ms)."""

    instrument_id: str
    timestamp: int
    price: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume: Decimal | None = None

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, kw_only=True)
class EodRow:
    """One Actant end-of-day row: an account's position and greeks in an instrument at ``timestamp`` (epoch ms)."""

    instrument_id: str
    timestamp: int
    account: str
    position: Decimal
    settlement_price: Decimal | None = None
    delta: Decimal | None = None
    gamma: Decimal | None = None
    vega: Decimal | None = None
    theta: Decimal | None = None

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, kw_only=True)
class SodRow:
    """One Actant start-of-day position; ``account_date`` is ``<account>#<YYYY-MM-DD>`` (see :meth:`for_day`)."""

    account_date: str
    instrument_id: str
    account: str
    position: Decimal
    avg_price: Decimal | None = None

    def __post_init__(self) -> None:
        _validate(self)
        prefix, _, day_text = self.account_date.rpartition("#")
        try:
            valid = prefix == self.account and date.fromisoformat(day_text).isoformat() == day_text
        except ValueError:
            valid = False
        if not valid:
            raise DeskRowError(
                f"SodRow.account_date {self.account_date!r} is not '<account>#<YYYY-MM-DD>' for account "
                f"{self.account!r} (build it with SodRow.for_day or sod_account_date)"
            )

    @classmethod
    def for_day(
        cls,
        *,
        account: str,
        day: date,
        instrument_id: str,
        position: Decimal,
        avg_price: Decimal | None = None,
    ) -> SodRow:
        """The row of ``account``'s start-of-day position in ``instrument_id`` on ``day``."""
        return cls(
            account_date=sod_account_date(account, day),
            instrument_id=instrument_id,
            account=account,
            position=position,
            avg_price=avg_price,
        )

    @property
    def day(self) -> date:
        return date.fromisoformat(self.account_date.rpartition("#")[2])


def sod_account_date(account: str, day: date) -> str:
    """The SOD partition key: ``<account>#<YYYY-MM-DD>``."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise DeskRowError(f"day must be a date, got {type(day).__name__}: {day!r}")
    return f"{_check_text('account', account)}#{day.isoformat()}"


@dataclass(frozen=True, kw_only=True)
class WorkingOrder:
    """One TT working order as a snapshot lists it (``price`` is None for orders without a limit price)."""

    order_id: str
    instrument: str
    side: str
    qty: Decimal
    status: str
    price: Decimal | None = None

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True, kw_only=True)
class StoredMarketRow(MarketRow):
    """A market row as the history holds it: the row plus when its file landed, its key and its ETag."""

    arrived_at: datetime
    source_key: str
    etag: str


@dataclass(frozen=True, kw_only=True)
class StoredEodRow(EodRow):
    """An EOD row as the history holds it."""

    arrived_at: datetime
    source_key: str
    etag: str


@dataclass(frozen=True, kw_only=True)
class StoredSodRow(SodRow):
    """A SOD row as the history holds it."""

    arrived_at: datetime
    source_key: str
    etag: str


@dataclass(frozen=True, kw_only=True)
class OrderSnapshotRow(WorkingOrder):
    """A working order in one snapshot: ``timestamp`` the snapshot's time (epoch ms), ``expire_time`` epoch seconds."""

    timestamp: int
    expire_time: int
    source_key: str


@dataclass(frozen=True)
class KindSpec:
    """Where one kind of history lives and how it is keyed (the same keys in DynamoDB and the central store)."""

    kind: str
    stored_type: type
    partition_key: str
    sort_key: str
    sort_key_type: Literal["S", "N"]
    dynamodb_table: str
    sql_table: sa.Table
    ttl_attribute: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.partition_key, self.sort_key


SPECS: dict[str, KindSpec] = {
    "market": KindSpec(
        "market", StoredMarketRow, "instrument_id", "timestamp", "N", "ActantMarketData", desk_market_history
    ),
    "eod": KindSpec("eod", StoredEodRow, "instrument_id", "timestamp", "N", "ActantEODData", desk_eod_history),
    "sod": KindSpec("sod", StoredSodRow, "account_date", "instrument_id", "S", "ActantSODData", desk_sod_history),
    "orders": KindSpec(
        "orders",
        OrderSnapshotRow,
        "order_id",
        "timestamp",
        "N",
        "TTWorkingOrders",
        desk_order_snapshots,
        ttl_attribute="expire_time",
    ),
}


def _spec(kind: str) -> KindSpec:
    try:
        return SPECS[kind]
    except KeyError:
        raise ValueError(f"Unknown history kind {kind!r}: one of {', '.join(KINDS)}") from None


def _field_values(row: object, row_type: type) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(row_type)}


def _coerce(row_type: type, rows: Iterable[object], what: str) -> list[Any]:
    """``rows`` as ``row_type`` instances: instances pass, mappings are built (and so checked) field by field."""
    names = [f.name for f in fields(row_type)]
    out = []
    for index, row in enumerate(rows):
        if isinstance(row, row_type):
            out.append(row)
            continue
        if not isinstance(row, Mapping):
            raise DeskRowError(
                f"{what} row {index} is a {type(row).__name__}; expected a {row_type.__name__} or a mapping"
            )
        unknown = sorted(set(row) - set(names))
        if unknown:
            raise DeskRowError(
                f"{what} row {index} has unknown field(s) {unknown}: a {row_type.__name__} has {names} "
                "(map the file's columns to these; other columns are not stored)"
            )
        missing = [f.name for f in fields(row_type) if f.name not in row and f.default is MISSING]
        if missing:
            raise DeskRowError(f"{what} row {index} lacks the field(s) {missing}")
        try:
            out.append(row_type(**row))
        except DeskRowError as exc:
            raise DeskRowError(f"{what} row {index}: {exc}") from None
    return out


def _collapse(rows: list[Any], spec: KindSpec) -> list[Any]:
    """One row per natural key, the last one; EOD rows of two accounts on one key are refused."""
    by_key: dict[tuple[Any, ...], Any] = {}
    for row in rows:
        key = (getattr(row, spec.partition_key), getattr(row, spec.sort_key))
        previous = by_key.get(key)
        if spec.kind == "eod" and previous is not None and previous.account != row.account:
            raise DeskRowError(
                f"EOD rows of accounts {previous.account!r} and {row.account!r} share the key instrument_id="
                f"{key[0]!r}, timestamp={key[1]}: the history keeps one account per instrument and time, so one "
                "position would be lost; the file is refused"
            )
        by_key[key] = row
    return list(by_key.values())


def _as_dict(row: object) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(row)}


# --------------------------------------------------------------------------------------------------------------
# Interface
# --------------------------------------------------------------------------------------------------------------


class DeskHistory(dg.ConfigurableResource):
    """Interface of the desk feed's history (see the module docstring for keys, types and idempotence).

    The ``write_*`` and read methods are implemented here, once: rows are checked and collapsed the same way for
    both stores. An implementation provides the four storage primitives ``_put``, ``_count``, ``_query`` and
    ``prune_expired``.
    """

    # -- writes -------------------------------------------------------------------------------------------------

    def write_market(
        self,
        rows: Iterable[MarketRow | Mapping[str, Any]],
        *,
        source_key: str,
        etag: str,
        arrived_at: datetime,
    ) -> int:
        """Store one market-data file's rows; return the number of distinct keys written."""
        return self._write_file("market", MarketRow, rows, source_key=source_key, etag=etag, arrived_at=arrived_at)

    def write_eod(
        self,
        rows: Iterable[EodRow | Mapping[str, Any]],
        *,
        source_key: str,
        etag: str,
        arrived_at: datetime,
    ) -> int:
        """Store one EOD file's rows; return the number of distinct keys written."""
        return self._write_file("eod", EodRow, rows, source_key=source_key, etag=etag, arrived_at=arrived_at)

    def write_sod(
        self,
        rows: Iterable[SodRow | Mapping[str, Any]],
        *,
        source_key: str,
        etag: str,
        arrived_at: datetime,
    ) -> int:
        """Store one SOD file's rows; return the number of distinct keys written."""
        return self._write_file("sod", SodRow, rows, source_key=source_key, etag=etag, arrived_at=arrived_at)

    def write_order_snapshot(
        self,
        orders: Iterable[WorkingOrder | Mapping[str, Any]],
        *,
        at: datetime,
        source_key: str,
    ) -> int:
        """Store the working orders of the snapshot taken ``at`` (its file: ``source_key``), each kept 7 days.

        Returns the number of distinct orders written.
        """
        spec = SPECS["orders"]
        at = _require_aware(at, "at")
        timestamp = epoch_ms(at)
        expire_time = _epoch_s(at + ORDER_TTL)
        _check_text("source_key", source_key)
        stored = [
            OrderSnapshotRow(
                **_field_values(order, WorkingOrder),
                timestamp=timestamp,
                expire_time=expire_time,
                source_key=source_key,
            )
            for order in _coerce(WorkingOrder, orders, f"orders of {source_key}")
        ]
        return self._write_stored(spec, stored)

    def _write_file(
        self,
        kind: str,
        row_type: type,
        rows: Iterable[object],
        *,
        source_key: str,
        etag: str,
        arrived_at: datetime,
    ) -> int:
        spec = SPECS[kind]
        provenance = {
            "arrived_at": _require_aware(arrived_at, "arrived_at"),
            "source_key": _check_text("source_key", source_key),
            "etag": _check_text("etag", etag),
        }
        stored = [
            spec.stored_type(**_field_values(row, row_type), **provenance)
            for row in _coerce(row_type, rows, f"{kind} file {source_key}")
        ]
        return self._write_stored(spec, stored)

    def _write_stored(self, spec: KindSpec, stored: list[Any]) -> int:
        rows = _collapse(stored, spec)
        if not rows:
            return 0
        return self._put(spec.kind, [_as_dict(row) for row in rows])

    # -- reads --------------------------------------------------------------------------------------------------

    def count_for_source(self, kind: HistoryKind, source_key: str) -> int:
        """How many rows of ``kind`` the history holds from the file ``source_key`` (to compare with the file).

        A key restated by a later file counts for that file (last write wins); rows repeating a key within one
        file count once. On DynamoDB the count reads a global secondary index: eventually consistent (a write is
        counted within a second or so).
        """
        return self._count(_spec(kind).kind, _check_text("source_key", source_key))

    def market_rows(self, instrument: str, start: datetime | int, end: datetime | int) -> list[StoredMarketRow]:
        """Market rows of ``instrument`` with a data time in ``[start, end)`` (datetimes or epoch ms), oldest first."""
        return self._range("market", instrument, start, end)

    def eod_rows(self, instrument: str, start: datetime | int, end: datetime | int) -> list[StoredEodRow]:
        """EOD rows of ``instrument`` whose time is in ``[start, end)``, oldest first."""
        return self._range("eod", instrument, start, end)

    def sod_rows(self, account: str, day: date) -> list[StoredSodRow]:
        """``account``'s start-of-day positions on ``day``, by instrument."""
        rows = self._query("sod", sod_account_date(account, day), None)
        return [StoredSodRow(**row) for row in rows]

    def order_history(
        self,
        order_id: str,
        *,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
        now: datetime | None = None,
    ) -> list[OrderSnapshotRow]:
        """The snapshots of one order in ``[start, end)`` (all when not given), oldest first.

        Rows expired at ``now`` (default: the current time) are left out, whether or not they are deleted yet
        (DynamoDB's TTL deletes within days, the central store when :meth:`prune_expired` runs).
        """
        lo = MIN_EPOCH_MS if start is None else self._ms(start, "start")
        hi = MAX_EPOCH_MS if end is None else self._ms(end, "end")
        if hi <= lo:
            return []
        cutoff = _epoch_s(now or datetime.now(UTC))
        rows = self._query("orders", _check_text("order_id", order_id), (lo, hi - 1))
        return [OrderSnapshotRow(**row) for row in rows if row["expire_time"] > cutoff]

    def _range(self, kind: str, instrument: str, start: datetime | int, end: datetime | int) -> list[Any]:
        spec = SPECS[kind]
        lo, hi = self._ms(start, "start"), self._ms(end, "end")
        if hi <= lo:
            return []
        rows = self._query(kind, _check_text("instrument", instrument), (lo, hi - 1))
        return [spec.stored_type(**row) for row in rows]

    @staticmethod
    def _ms(value: datetime | int, name: str) -> int:
        if isinstance(value, datetime):
            return (_require_aware(value, name) - EPOCH) // timedelta(milliseconds=1)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an aware datetime or epoch milliseconds, got {value!r}")
        return value

    # -- maintenance --------------------------------------------------------------------------------------------

    def prune_expired(self, now: datetime) -> int:
        """Delete order rows whose ``expire_time`` is at or before ``now``; return how many were deleted."""
        raise NotImplementedError(f"{type(self).__name__} does not implement prune_expired")

    # -- storage primitives (implementations) -------------------------------------------------------------------

    def _put(self, kind: str, rows: list[dict[str, Any]]) -> int:
        """Upsert checked, collapsed rows (one per key, field name -> value); return how many."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _put")

    def _count(self, kind: str, source_key: str) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not implement _count")

    def _query(self, kind: str, partition: str, sort_range: tuple[int, int] | None) -> list[dict[str, Any]]:
        """Rows of one partition, the sort key within ``sort_range`` (inclusive) when given, by sort key."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _query")


# --------------------------------------------------------------------------------------------------------------
# Central store (local)
# --------------------------------------------------------------------------------------------------------------


class CentralStoreDeskHistory(DeskHistory):
    """The history in the central store's ``desk_*`` tables (SQLite locally, PostgreSQL when configured so).

    Each write is one upsert transaction (:meth:`CentralStore.upsert`, all or nothing); decimals round-trip
    exactly (``NUMERIC`` on PostgreSQL, their text on SQLite). Order rows expire only when
    :meth:`prune_expired` runs (reads leave expired rows out before that).
    """

    store: CentralStore = Field(description="The central store (the event pipeline's SQL database).")

    def _put(self, kind: str, rows: list[dict[str, Any]]) -> int:
        spec = SPECS[kind]
        update = [name for name in rows[0] if name not in spec.key]
        return self.store.upsert(spec.sql_table, rows, key=spec.key, update=update)

    def _count(self, kind: str, source_key: str) -> int:
        table = SPECS[kind].sql_table
        query = sa.select(sa.func.count()).select_from(table).where(table.c.source_key == source_key)
        with self.store.connect() as conn:
            return conn.execute(query).scalar_one()

    def _query(self, kind: str, partition: str, sort_range: tuple[int, int] | None) -> list[dict[str, Any]]:
        spec = SPECS[kind]
        table = spec.sql_table
        query = sa.select(table).where(table.c[spec.partition_key] == partition)
        if sort_range is not None:
            query = query.where(table.c[spec.sort_key].between(*sort_range))
        with self.store.connect() as conn:
            return [dict(row) for row in conn.execute(query.order_by(table.c[spec.sort_key])).mappings()]

    def prune_expired(self, now: datetime) -> int:
        """Delete order rows expired at ``now`` (``expire_time <= now``), the central store's TTL; return the count."""
        table = desk_order_snapshots
        with self.store.begin() as conn:
            return conn.execute(sa.delete(table).where(table.c.expire_time <= _epoch_s(now))).rowcount


# --------------------------------------------------------------------------------------------------------------
# DynamoDB (aws)
# --------------------------------------------------------------------------------------------------------------


def _item(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as a DynamoDB item: no None attributes, times as ISO-8601 UTC text, numbers Decimal or int."""
    item: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            continue
        if isinstance(value, float):  # rows are checked when built; this guards the item itself
            raise DeskRowError(f"{name} is the float {value!r}: DynamoDB items take Decimal only")
        item[name] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    return item


def _row(spec: KindSpec, item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as row fields (attributes the row type does not have are ignored)."""
    row: dict[str, Any] = {}
    for field in fields(spec.stored_type):
        if field.name not in item:
            continue
        value = item[field.name]
        annotation = str(field.type)
        if annotation == "int":
            value = int(value)
        elif annotation == "datetime":
            value = datetime.fromisoformat(value)
        row[field.name] = value
    return row


class DynamoDbDeskHistory(DeskHistory):
    """The history in the seed's DynamoDB tables, ``<table>-<table_suffix>``.

    Items carry the row's fields only (typed: strings, Decimal numbers, ``arrived_at`` as ISO-8601 UTC text;
    absent optional fields are left out). Writes go through ``batch_writer(overwrite_by_pkeys=...)`` (batches of
    25, unprocessed items retried). Counting a file's rows needs the ``source_key-index`` GSI, order rows expire
    by the table's TTL on ``expire_time``: :meth:`table_definitions` is what the CDK stack must create.
    """

    table_suffix: str = Field(
        default="dev",
        description="Environment suffix of the table names: ActantMarketData-<suffix>, TTWorkingOrders-<suffix>, ...",
    )
    region_name: str = Field(default="us-east-1", description="AWS region of the tables.")
    endpoint_url: str | None = Field(
        default=None,
        description="Another DynamoDB endpoint (tests); unset, boto3 resolves it (AWS_ENDPOINT_URL honoured).",
    )
    max_attempts: int = Field(
        default=10, description="Attempts per DynamoDB request (botocore's standard retry mode: throttling, 5xx)."
    )

    _local: Any = PrivateAttr(default_factory=threading.local)

    # -- tables -------------------------------------------------------------------------------------------------

    def table_name(self, kind: str) -> str:
        """The DynamoDB table of ``kind``: e.g. ``ActantMarketData-dev``."""
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,200}", self.table_suffix):
            raise ValueError(f"table_suffix {self.table_suffix!r} must be 1-200 of A-Z a-z 0-9 _ . - (a DynamoDB name)")
        return f"{_spec(kind).dynamodb_table}-{self.table_suffix}"

    def table_definitions(self) -> list[dict[str, Any]]:
        """``create_table`` arguments of the four tables (the CDK stack creates the same; add PITR there).

        Keys as the seed's: partition keys strings, sort keys numbers except SOD's ``instrument_id``; on-demand
        billing; the ``source_key-index`` GSI (keys only) for :meth:`count_for_source`. The TTL on
        ``TTWorkingOrders``' ``expire_time`` is set separately (``update_time_to_live``).
        """
        definitions = []
        for kind, spec in SPECS.items():
            attributes = {spec.partition_key: "S", spec.sort_key: spec.sort_key_type, "source_key": "S"}
            definitions.append(
                {
                    "TableName": self.table_name(kind),
                    "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
                    "KeySchema": [
                        {"AttributeName": spec.partition_key, "KeyType": "HASH"},
                        {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
                    ],
                    "BillingMode": "PAY_PER_REQUEST",
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": SOURCE_INDEX,
                            "KeySchema": [
                                {"AttributeName": "source_key", "KeyType": "HASH"},
                                {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "KEYS_ONLY"},
                        }
                    ],
                }
            )
        return definitions

    def create_tables(self) -> list[str]:
        """Create the four tables where missing (development and tests), enable the orders' TTL; return those created.

        Production tables come from the CDK stack, not from here.
        """
        client = self._client()
        created = []
        try:
            for definition in self.table_definitions():
                try:
                    client.create_table(**definition)
                    created.append(definition["TableName"])
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                        raise
            for name in created:
                client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            for kind, spec in SPECS.items():
                if spec.ttl_attribute is None:
                    continue
                name = self.table_name(kind)
                ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
                if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                    client.update_time_to_live(
                        TableName=name,
                        TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._failure(exc, "creating the tables") from None
        return created

    # -- boto3 --------------------------------------------------------------------------------------------------

    def _resource(self) -> Any:
        # boto3 resources are not thread-safe: one per thread (a consumer may write from several).
        resource = getattr(self._local, "resource", None)
        if resource is None:
            config = Config(
                retries={"mode": "standard", "max_attempts": self.max_attempts}, connect_timeout=5, read_timeout=30
            )
            resource = boto3.session.Session().resource(
                "dynamodb", region_name=self.region_name, endpoint_url=self.endpoint_url or None, config=config
            )
            self._local.resource = resource
        return resource

    def _client(self) -> Any:
        return self._resource().meta.client

    def _failure(self, exc: Exception, doing: str, table: str | None = None) -> DeskHistoryError:
        endpoint = self._client().meta.endpoint_url
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", str(exc))
            if code == "ResourceNotFoundException" or (code == "ValidationException" and "index" in message):
                return DeskHistoryUnavailableError(
                    f"DynamoDB table {table or '(one of the desk tables)'} does not exist at {endpoint} "
                    f"({self.region_name}), or lacks its {SOURCE_INDEX} index, while {doing}: the CDK stack creates "
                    "the tables in aws; for development and tests call DynamoDbDeskHistory.create_tables()."
                )
            return DeskHistoryError(
                f"DynamoDB refused {doing} ({table or 'desk tables'} at {endpoint}): {code} {message}"
            )
        return DeskHistoryUnavailableError(
            f"DynamoDB at {endpoint} ({self.region_name}) is unavailable while {doing}: {exc}. Check the endpoint, "
            "the network and the credentials, then write the file again (writes are idempotent)."
        )

    # -- primitives ---------------------------------------------------------------------------------------------

    def _put(self, kind: str, rows: list[dict[str, Any]]) -> int:
        spec = SPECS[kind]
        name = self.table_name(kind)
        try:
            with self._resource().Table(name).batch_writer(overwrite_by_pkeys=list(spec.key)) as batch:
                for row in rows:
                    batch.put_item(Item=_item(row))
        except (ClientError, BotoCoreError) as exc:
            raise self._failure(exc, f"writing {len(rows)} {kind} rows", name) from None
        return len(rows)

    def _count(self, kind: str, source_key: str) -> int:
        name = self.table_name(kind)
        paginator = self._client().get_paginator("query")
        total = 0
        try:
            for page in paginator.paginate(
                TableName=name,
                IndexName=SOURCE_INDEX,
                KeyConditionExpression="source_key = :source",
                ExpressionAttributeValues={":source": source_key},  # the resource's client serializes values
                Select="COUNT",
            ):
                total += page["Count"]
        except (ClientError, BotoCoreError) as exc:
            raise self._failure(exc, f"counting the {kind} rows of {source_key}", name) from None
        return total

    def _query(self, kind: str, partition: str, sort_range: tuple[int, int] | None) -> list[dict[str, Any]]:
        spec = SPECS[kind]
        name = self.table_name(kind)
        condition = Key(spec.partition_key).eq(partition)
        if sort_range is not None:
            condition = condition & Key(spec.sort_key).between(*sort_range)
        arguments: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": True}
        items: list[dict[str, Any]] = []
        try:
            table = self._resource().Table(name)
            while True:
                page = table.query(**arguments)
                items.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise self._failure(exc, f"reading {kind} rows of {partition}", name) from None
        return [_row(spec, item) for item in items]

    def prune_expired(self, now: datetime) -> int:
        """Nothing to do: the table's TTL deletes expired order rows (reads leave them out until then). Returns 0."""
        _require_aware(now, "now")
        return 0
