"""Market telemetry: recent 5-minute OHLCV bars per ticker, upserted into the central store's ``lane_telemetry``.

Two steps, both free of Dagster so they can be called from an asset, a sensor or a script:

- :func:`parse_intraday` turns an Alpha Vantage ``TIME_SERIES_INTRADAY`` answer into :class:`Bar` objects. The
  vendor stamps each bar with its *start* time, naive, in the exchange's time zone (the Meta Data's
  ``Time Zone``, ``US/Eastern``); bars are stored in UTC, converted with the tz database so daylight saving
  time is right on both sides of the switch (09:30 New York is 14:30 UTC in January, 13:30 UTC in summer).
- :func:`ingest_bars` fetches every ticker through a :class:`MarketDataProvider`, keeps the bars that have
  started by ``now`` (and, for a daily partition or backfill, those of one UTC ``day``), and writes them all
  with one upsert keyed on ``(ticker, ts)``. Re-running is safe: a bar already stored is overwritten, which is
  also how the bar still forming at the last poll gets its final values on the next one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from resources.central_store import CentralStore, lane_telemetry
from resources.market_data import Bar, MarketDataProvider

logger = logging.getLogger(__name__)

DEFAULT_TIME_ZONE = "US/Eastern"
"""Alpha Vantage's documented zone for US equities; used only when an answer's Meta Data does not say."""

STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
FIELDS = {"open": "1. open", "high": "2. high", "low": "3. low", "close": "4. close", "volume": "5. volume"}
"""Bar attribute -> Alpha Vantage's key in one row of the time series."""

UPDATE_COLUMNS = ("open", "high", "low", "close", "volume", "source", "ingested_at")
"""Columns a re-ingested bar overwrites: the values of a bar still forming change until it closes."""

OK = "ok"


# ------------------------------------------------------------------------------------------------- parse


def _time_zone(meta: object, ticker: str) -> ZoneInfo:
    # The key is numbered differently per function ("6. Time Zone" intraday, "5. Time Zone" daily).
    name = None
    if isinstance(meta, Mapping):
        name = next((v for k, v in meta.items() if str(k).lower().endswith("time zone")), None)
    name = str(name).strip() if name else DEFAULT_TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{ticker}: the intraday answer names an unknown time zone {name!r}.") from None


def _to_utc(stamp: str, zone: ZoneInfo, ticker: str) -> datetime:
    try:
        local = datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=zone)
    except (TypeError, ValueError):
        raise ValueError(f"{ticker}: bar {stamp!r} has a timestamp not in the form YYYY-MM-DD HH:MM:SS.") from None
    utc = local.astimezone(UTC)
    # A wall time skipped by the spring-forward switch (02:30 on the second Sunday of March) does not exist;
    # zoneinfo would silently shift it, so a row carrying one is corrupt rather than a bar to store.
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError(f"{ticker}: bar {stamp!r} names a local time that does not exist in {zone.key} (DST gap).")
    return utc


def _number(row: Mapping[str, Any], name: str, key: str, stamp: str, ticker: str) -> float:
    raw = row.get(key)
    try:
        value = float(raw)  # Alpha Vantage sends every number as a string; a missing one as "None"
    except (TypeError, ValueError):
        raise ValueError(f"{ticker}: bar {stamp!r} has no usable {name} ({key!r} = {raw!r}).") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{ticker}: bar {stamp!r} has an impossible {name} ({key!r} = {raw!r}).")
    return value


def parse_intraday(payload: Mapping[str, Any], ticker: str, interval: str = "5min") -> list[Bar]:
    """Bars of one ``TIME_SERIES_INTRADAY`` answer, oldest first, ``ts`` = start of the bar in UTC.

    Raises ``ValueError`` naming the ticker (and the row, when one row is at fault) for an answer without the
    ``Time Series (<interval>)`` section, a bad timestamp, a missing or non-numeric value, a negative price or
    volume, or a bar whose high/low do not bracket its open and close. One bad row rejects the whole answer:
    a vendor that sends a corrupt row may have sent others that look plausible.
    """
    key = f"Time Series ({interval})"
    series = payload.get(key) if isinstance(payload, Mapping) else None
    if not isinstance(series, Mapping):
        found = ", ".join(repr(k) for k in list(payload)[:5]) if isinstance(payload, Mapping) else type(payload)
        raise ValueError(f"{ticker}: the intraday answer has no {key!r} section (it has {found}).")
    zone = _time_zone(payload.get("Meta Data"), ticker)
    bars: dict[datetime, Bar] = {}
    for stamp, row in series.items():
        if not isinstance(row, Mapping):
            raise ValueError(f"{ticker}: bar {stamp!r} is not an object of values (got {type(row).__name__}).")
        ts = _to_utc(stamp, zone, ticker)
        values = {name: _number(row, name, field_key, stamp, ticker) for name, field_key in FIELDS.items()}
        if values["low"] > min(values["open"], values["close"]) or values["high"] < max(
            values["open"], values["close"]
        ):
            raise ValueError(
                f"{ticker}: bar {stamp!r} is inconsistent: high {values['high']} / low {values['low']} do not "
                f"bracket open {values['open']} and close {values['close']}."
            )
        if ts in bars:
            # Only possible for a wall time repeated by the autumn switch: which bar is which is unknowable.
            raise ValueError(f"{ticker}: bar {stamp!r} falls on a UTC time another bar already has (DST overlap).")
        bars[ts] = Bar(ticker=ticker, ts=ts, **values)
    return [bars[ts] for ts in sorted(bars)]


# ------------------------------------------------------------------------------------------------- ingest


@dataclass
class TelemetrySummary:
    """What one ingest did: ``per_ticker`` maps each ticker to ``"ok"`` or the reason it was skipped."""

    per_ticker: dict[str, str] = field(default_factory=dict)
    bars_written: int = 0
    """Rows inserted or overwritten in ``lane_telemetry`` (a re-ingested, unchanged bar counts too)."""

    @property
    def failed(self) -> dict[str, str]:
        """Tickers skipped this time, with the reason."""
        return {ticker: status for ticker, status in self.per_ticker.items() if status != OK}


def _is_ticker_failure(exc: Exception) -> bool:
    # The provider contract (resources.market_data): scope "ticker" errors and parse errors concern one ticker;
    # run-scope and daily-quota errors (and anything unexpected) must stop the ingest.
    return getattr(exc, "scope", None) == "ticker" or isinstance(exc, ValueError)


def ingest_bars(
    store: CentralStore,
    provider: MarketDataProvider,
    tickers: Iterable[str],
    *,
    now: datetime,
    day: date | None = None,
    from_history: bool = False,
) -> TelemetrySummary:
    """Fetch each ticker's bars and upsert them into ``lane_telemetry`` in one transaction.

    ``now`` (timezone-aware) is the poll time: bars starting after it are dropped (a provider's clock or a
    replayed answer must not put future bars in the store). ``day`` keeps only bars starting on that UTC
    calendar day, for a daily partition or a backfill; ``from_history`` asks the provider for that day's
    bars from its history instead of its latest ones (a past day is out of a live poll's reach). A
    ticker-scoped failure is recorded in the summary and the other tickers go on. A run error (key, plan)
    propagates at once, writing nothing. A spent daily quota first writes the bars already fetched (they stay
    usable), then propagates.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC): a naive time would be ambiguous against UTC bars.")
    now = now.astimezone(UTC)
    summary = TelemetrySummary()
    kept: list[Bar] = []
    try:
        for ticker in dict.fromkeys(tickers):  # de-duplicated, order kept
            try:
                bars = provider.intraday_bars(ticker, day if from_history else None)
            except Exception as exc:
                if not _is_ticker_failure(exc):
                    raise
                summary.per_ticker[ticker] = f"error: {exc}"
                logger.warning("Market telemetry: skipping %s: %s", ticker, exc)
                continue
            kept.extend(bar for bar in bars if bar.ts <= now and (day is None or bar.ts.date() == day))
            summary.per_ticker[ticker] = OK
    except Exception as exc:
        if getattr(exc, "scope", None) == "day" and kept:
            summary.bars_written = _write(store, kept, provider.source)
            logger.warning(
                "Market telemetry: daily quota spent; wrote the %d bars fetched before it (%s).",
                summary.bars_written,
                ", ".join(t for t, s in summary.per_ticker.items() if s == OK),
            )
        raise
    summary.bars_written = _write(store, kept, provider.source)
    return summary


def _write(store: CentralStore, bars: list[Bar], source: str) -> int:
    # The wall clock, not the poll's `now`: a backfill run today for last week must still say when it wrote.
    ingested_at = datetime.now(UTC)
    rows = [
        {
            "ticker": bar.ticker,
            "ts": bar.ts,
            "open": bar.open,
            "high": bar.high,
            "low": bar.low,
            "close": bar.close,
            "volume": bar.volume,
            "source": source,
            "ingested_at": ingested_at,
        }
        for bar in bars
    ]
    if not rows:
        return 0
    with store.begin() as conn:
        return store.upsert(lane_telemetry, rows, key=("ticker", "ts"), update=UPDATE_COLUMNS, conn=conn)
