"""Processing one landed desk file, end to end. Plain, no Dagster: the always-on consumer, the reconciliation
sensor and the day's replays all call :func:`process_file`.

For a file under ``market-data/``, ``eod/`` or ``sod/``:

1. route it by prefix; a key under a feed prefix that breaks the layout is quarantined with the reason;
2. read it and compute its ETag (the MD5 of the bytes, as S3 reports for a single-part upload), the identity of
   this version of the object;
3. parse it strictly (one bad row rejects the file): a malformed file is **quarantined** (copied to
   ``quarantine/<key>`` with ``quarantine/<key>.reason.json``, then deleted) and reported, and the others go on;
4. market data: the latest values go to Redis in one atomic, idempotent call (key + ETag; never older over
   newer) — first, because the dashboard's 2-second budget is about Redis;
5. the rows go to the history store (idempotent on the natural keys);
6. the file is **archived** to ``processed/<key>`` and deleted from its landing key.

A failure of Redis or the history store raises before the archive step: the file stays where it landed, and the
next attempt (the consumer's retry or the reconciliation sensor) repeats every step harmlessly, since each is
idempotent. Nothing is half-applied: Redis takes a file in one call, the central store in one transaction.

A file no longer at its landing key is not an error: S3 delivers events at least once, so a repeated event often
comes after the first delivery's file was archived (``duplicate``: it is under ``processed/`` or
``quarantine/``), and a file somebody deleted is ``ignored`` with a warning. Either way the event is done with,
rather than retried until it lands in the dead-letter queue. A failing alert (the notifier down) is logged and
never stops the quarantine nor the other files.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from ops_assets.desk.files import (
    FileKind,
    LandedFile,
    RouteError,
    processed_key,
    quarantine_key,
    quarantine_reason_key,
    route,
)
from ops_assets.desk.parsing import ACTANT_TIMEZONE, MalformedFile, parse_file
from resources.desk_history import EodRow, MarketRow, SodRow, epoch_ms, sod_account_date

logger = logging.getLogger(__name__)

Outcome = Literal["processed", "duplicate", "quarantined", "ignored"]


class Objects(Protocol):
    def get_bytes(self, key: str) -> bytes: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...


class LatestValues(Protocol):
    def apply_market_update(
        self, rows: Any, *, last_update: int, source_key: str, etag: str, arrived: int | None = None
    ) -> bool: ...


class History(Protocol):
    def write_market(self, rows: Any, *, source_key: str, etag: str, arrived_at: datetime) -> int: ...
    def write_eod(self, rows: Any, *, source_key: str, etag: str, arrived_at: datetime) -> int: ...
    def write_sod(self, rows: Any, *, source_key: str, etag: str, arrived_at: datetime) -> int: ...


@dataclass(frozen=True)
class FileOutcome:
    key: str
    outcome: Outcome
    kind: str | None = None
    rows: int = 0
    reason: str | None = None
    etag: str | None = None


def etag_of(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def process_file(
    key: str,
    *,
    objects: Objects,
    latest: LatestValues,
    history: History,
    arrived_at: datetime,
    timezone: str = ACTANT_TIMEZONE,
    alert: Callable[[str, str], None] | None = None,
) -> FileOutcome:
    """Process the object at ``key`` (see the module doc); ``arrived_at`` is when it landed (aware)."""
    landed = route(key)
    if isinstance(landed, RouteError):
        if not landed.ours:
            return FileOutcome(key, "ignored", reason=landed.reason)
        data = _read(objects, key)
        if data is None:
            return _gone(objects, key, None)
        return _quarantine(objects, key, None, landed.reason, data, alert)
    if landed.kind == FileKind.ORDERS:
        # Snapshots are written by the snapshotter itself, already applied; nothing to do when they land.
        return FileOutcome(key, "ignored", kind=landed.kind, reason="working-orders snapshots are written, not read")
    data = _read(objects, key)
    if data is None:
        return _gone(objects, key, landed.kind)
    etag = etag_of(data)
    try:
        parsed = parse_file(landed.kind, data, day=landed.day, timezone=timezone)
    except MalformedFile as exc:
        return _quarantine(objects, key, landed, exc.describe(), data, alert, etag=etag)
    applied = True
    if landed.kind == FileKind.MARKET:
        applied = latest.apply_market_update(
            [_latest_row(row) for row in parsed.rows],
            last_update=int(datetime.now(UTC).timestamp()),
            source_key=key,
            etag=etag,
            arrived=int(arrived_at.timestamp()),
        )
    rows = write_history(history, landed, parsed.rows, key=key, etag=etag, arrived_at=arrived_at)
    objects.put_bytes(processed_key(key), data)
    objects.delete(key)
    return FileOutcome(key, "processed" if applied else "duplicate", kind=landed.kind, rows=rows, etag=etag)


def _read(objects: Objects, key: str) -> bytes | None:
    """The object's bytes, or ``None`` when nothing is at ``key`` (the object stores raise a ``KeyError`` then)."""
    try:
        return objects.get_bytes(key)
    except KeyError:
        return None


def _gone(objects: Objects, key: str, kind: str | None) -> FileOutcome:
    """The outcome for an event whose file is no longer at its landing key."""
    for where, done in ((processed_key(key), "archived"), (quarantine_key(key), "quarantined")):
        if objects.exists(where):
            return FileOutcome(key, "duplicate", kind=kind, reason=f"already {done} ({where}): a repeated event")
    logger.warning("%s is no longer at its landing key and was neither archived nor quarantined: deleted?", key)
    return FileOutcome(
        key, "ignored", kind=kind, reason="no longer at its landing key (neither archived nor quarantined)"
    )


def _latest_row(row: Any) -> dict[str, Any]:
    return {
        "instrument": row.instrument,
        "timestamp": int(row.timestamp.timestamp()),
        "price": str(row.price),
        "bid": "" if row.bid is None else str(row.bid),
        "ask": "" if row.ask is None else str(row.ask),
        "volume": str(row.volume),
    }


def write_history(history: History, landed: LandedFile, rows: Any, *, key: str, etag: str, arrived_at: datetime) -> int:
    # The history's row types belong to the resource (resources know no domain): the domain converts to them.
    common = {"source_key": key, "etag": etag, "arrived_at": arrived_at}
    if landed.kind == FileKind.MARKET:
        return history.write_market(
            [
                MarketRow(
                    instrument_id=r.instrument,
                    timestamp=epoch_ms(r.timestamp),
                    price=r.price,
                    bid=r.bid,
                    ask=r.ask,
                    volume=r.volume,
                )
                for r in rows
            ],
            **common,
        )
    if landed.kind == FileKind.EOD:
        close = _eod_time(landed.day)
        return history.write_eod(
            [
                EodRow(
                    # The seed's key (instrument_id + timestamp) has no account, and several accounts hold the
                    # same instrument: the account goes into the key, as SOD's account_date carries it.
                    instrument_id=f"{r.account}#{r.instrument}",
                    timestamp=close,
                    account=r.account,
                    position=r.position,
                    settlement_price=r.settlement_price,
                    delta=r.delta,
                    gamma=r.gamma,
                    vega=r.vega,
                    theta=r.theta,
                )
                for r in rows
            ],
            **common,
        )
    return history.write_sod(
        [
            SodRow(
                account_date=sod_account_date(r.account, r.account_date),
                instrument_id=r.instrument,
                account=r.account,
                position=r.position,
                avg_price=r.avg_price,
            )
            for r in rows
        ],
        **common,
    )


def _eod_time(day: date) -> int:
    """EOD rows are stamped with the day (midnight UTC, epoch ms): the file has one row per instrument a day."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _quarantine(
    objects: Objects,
    key: str,
    landed: LandedFile | None,
    reason: str,
    data: bytes,
    alert: Callable[[str, str], None] | None,
    *,
    etag: str | None = None,
) -> FileOutcome:
    note = {"key": key, "reason": reason, "etag": etag, "quarantined_at": datetime.now(UTC).isoformat()}
    objects.put_bytes(quarantine_key(key), data)
    objects.put_bytes(quarantine_reason_key(key), json.dumps(note, indent=2).encode())
    objects.delete(key)
    if alert is not None:
        try:
            alert(
                f"Desk file QUARANTINED - {key}", f"{reason}\nThe file is at {quarantine_key(key)}; the others go on."
            )
        except Exception:  # the file is quarantined with its reason either way; the others must go on
            logger.exception(
                "could not send the quarantine alert for %s (the reason is in %s)", key, quarantine_key(key)
            )
    return FileOutcome(key, "quarantined", kind=landed.kind if landed else None, reason=reason, etag=etag)
