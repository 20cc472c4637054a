"""Market data providers: recent 5-minute OHLCV bars per ticker, behind one small interface.

:class:`MarketDataProvider` is what a telemetry ingest talks to, so another vendor can be plugged in later by
writing one subclass. :class:`AlphaVantageMarketData` is the Alpha Vantage implementation
(``TIME_SERIES_INTRADAY``) over the shared, rate-limited :class:`AlphaVantageResource`; :func:`parse_intraday`
reads its answers. The vendor stamps each bar with its *start* time, naive, in the exchange's time zone (the
Meta Data's ``Time Zone``, ``US/Eastern``); bars come out in UTC, converted with the tz database so daylight
saving time is right on both sides of the switch (09:30 New York is 14:30 UTC in January, 13:30 UTC in summer).

Contract for implementations of :meth:`MarketDataProvider.intraday_bars`:

- return the provider's recent bars for one ticker (or, given ``day``, bars covering that past day), oldest
  first, timestamps in UTC at the *start* of the bar; bars of other days may come along (the caller filters);
- a failure that concerns only this ticker (unknown symbol, malformed answer) raises an exception whose
  ``scope`` attribute is ``"ticker"`` (as :class:`~resources.alpha_vantage.AlphaVantageTickerError` does) or a
  ``ValueError``: the ingest records it and goes on with the other tickers;
- anything else (a bad key, a spent daily quota, ...) stops the ingest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from pydantic import Field

from resources.alpha_vantage import AlphaVantageResource


@dataclass(frozen=True)
class Bar:
    """One OHLCV bar of one ticker. ``ts`` is the start of the bar, timezone-aware UTC."""

    ticker: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


# ------------------------------------------------------------------------------------- Alpha Vantage answers

DEFAULT_TIME_ZONE = "US/Eastern"
"""Alpha Vantage's documented zone for US equities; used only when an answer's Meta Data does not say."""

STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
FIELDS = {"open": "1. open", "high": "2. high", "low": "3. low", "close": "4. close", "volume": "5. volume"}
"""Bar attribute -> Alpha Vantage's key in one row of the time series."""


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


class MarketDataProvider(dg.ConfigurableResource):
    """Interface of a market data vendor: recent intraday bars per ticker (see the module docstring)."""

    def intraday_bars(self, ticker: str, day: date | None = None) -> list[Bar]:
        """5-minute bars for ``ticker``, oldest first, ``ts`` in UTC (start of the bar).

        ``day=None``: the latest bars (a live poll). A date: bars covering that day, from the provider's history
        (a backfill); they may include neighbouring days.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement intraday_bars")

    @property
    def source(self) -> str:
        """Short name of the provider, stored with every bar (``lane_telemetry.source``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement source")


class AlphaVantageMarketData(MarketDataProvider):
    """Alpha Vantage ``TIME_SERIES_INTRADAY`` bars (https://www.alphavantage.co/documentation/#intraday).

    A live poll asks ``outputsize`` (default ``compact``: the latest 100 bars, about 8 hours of 5-minute bars
    with extended hours, one request per ticker — enough for a poll every 5 minutes). A past day is asked by
    month, ``month=YYYY-MM&outputsize=full``: the whole calendar month in one request per ticker (two on the
    1st of a winter month, see :func:`history_months`), whatever ``outputsize`` says (``compact`` would keep
    only the month's last 100 bars).
    Errors keep the client's scopes: a ticker error skips that ticker, a run error (key, a plan without the
    feature) or the daily quota stops the ingest.
    """

    alpha_vantage: AlphaVantageResource = Field(description="The shared, rate-limited Alpha Vantage client.")
    interval: str = Field(default="5min", description="Bar length: 1min, 5min, 15min, 30min or 60min.")
    outputsize: str = Field(default="compact", description="compact (latest 100 bars) or full (about 30 days).")

    def intraday_bars(self, ticker: str, day: date | None = None) -> list[Bar]:
        if day is None:
            payload = self.alpha_vantage.get(
                "TIME_SERIES_INTRADAY", ticker, interval=self.interval, outputsize=self.outputsize
            )
            return parse_intraday(payload, ticker, self.interval)
        bars: list[Bar] = []
        for month in history_months(day):
            payload = self.alpha_vantage.get(
                "TIME_SERIES_INTRADAY", ticker, interval=self.interval, outputsize="full", month=month
            )
            bars += parse_intraday(payload, ticker, self.interval)
        return sorted(bars, key=lambda bar: bar.ts)

    @property
    def source(self) -> str:
        return "alpha_vantage"


# Alpha Vantage's intraday clock and its last extended-hours bar (19:55-20:00 New York time).
NEW_YORK = ZoneInfo("America/New_York")
EXTENDED_HOURS_END = time(20, 0)


def history_months(day: date) -> list[str]:
    """The ``month=`` values whose answers hold the bars of UTC ``day``.

    A UTC day starts the evening before in New York: 19:00 in winter (EST), when the previous day's last
    extended-hours hour falls on ``day`` in UTC, and 20:00 in summer (EDT), after the last bar. So the 1st of a
    month needs the previous month too in winter only.
    """
    evening_before = datetime.combine(day, time(0), tzinfo=UTC).astimezone(NEW_YORK)
    months = [f"{day:%Y-%m}"]
    if evening_before.time() < EXTENDED_HOURS_END and f"{evening_before:%Y-%m}" != months[0]:
        months.insert(0, f"{evening_before:%Y-%m}")
    return months
