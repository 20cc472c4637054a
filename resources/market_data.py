"""Market data providers: recent 5-minute OHLCV bars per ticker, behind one small interface.

:class:`MarketDataProvider` is what the telemetry ingest (``ops_assets.markets.telemetry``) talks to, so another
vendor can be plugged in later by writing one subclass. :class:`AlphaVantageMarketData` is the Alpha Vantage
implementation (``TIME_SERIES_INTRADAY``) over the shared, rate-limited :class:`AlphaVantageResource`.

Contract for implementations of :meth:`MarketDataProvider.intraday_bars`:

- return the provider's recent bars for one ticker (or, given ``day``, bars covering that past day), oldest
  first, timestamps in UTC at the *start* of the bar; bars of other days may come along (the caller filters);
- a failure that concerns only this ticker (unknown symbol, malformed answer) raises an exception whose
  ``scope`` attribute is ``"ticker"`` (as :class:`~resources.alpha_vantage.AlphaVantageTickerError` does) or a
  ``ValueError``: the ingest records it and goes on with the other tickers;
- anything else (a bad key, a spent daily quota, ...) stops the ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

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
        # Imported here: the parser lives with the ingest logic, which itself imports Bar from this module.
        from ops_assets.markets.telemetry import parse_intraday

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
