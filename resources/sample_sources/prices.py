"""Deterministic offline daily prices on the NYSE calendar, and a local server answering like Yahoo's chart API.

Written by this project (no market data is copied). :func:`sample_daily_history` answers a
:class:`~resources.price_source.PriceHistory` for any ticker but :data:`SAMPLE_UNKNOWN_TICKER`:

- **sessions** are the NYSE's (``exchange_calendars`` ``XNYS``, built with explicit bounds
  :data:`CALENDAR_START` - :data:`CALENDAR_END`, since its default window moves with today): no weekends, no
  holidays, half days (e.g. the day after Thanksgiving) present with a narrower range and a thinner volume;
- each ticker's series starts :data:`SAMPLE_PRICES_START` and is drawn from
  ``numpy.random.default_rng(zlib.crc32(ticker))`` over every session up to :data:`CALENDAR_END`, so it is the
  same in every process and **prefix-stable**: day D's values never depend on the requested range (nor on
  :data:`SAMPLE_PRICES_END`);
- a trend (log prices drift up 4-18 % a year), volatility regimes (calm, and turbulent spells about 2.5x as
  volatile, switching as a Markov chain), fat-tailed returns, overnight gaps, a high/low around open and close
  (``low <= open, close <= high``), and a volume that rises in turbulent spells and falls on half days;
- **one split** per ticker (2:1, 3:1 or 4:1, on a session between 2012 and 2022): prices are *as traded*, so
  on the split day they drop by the ratio (and volumes rise by it), and ``splits`` lists it;
- only sessions up to :data:`SAMPLE_PRICES_END` are served (the last completed session of the sample's "today").

:class:`YahooChartSampleServer` serves the same series in the exact shape of Yahoo Finance's chart API
(``/v8/finance/chart/<ticker>``), split-*adjusted* as Yahoo does it, with the split in ``events``; the unknown
ticker gets Yahoo's 404 body. Tests throttle it (:meth:`YahooChartSampleServer.throttle`), blank days
(:meth:`YahooChartSampleServer.blank`) and read what was asked (:attr:`YahooChartSampleServer.requests`).
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import exchange_calendars
import numpy as np

from resources.price_source import DailyBar, PriceHistory, PriceSourceTickerError, check_range
from resources.sample_sources.local_http import LocalHttpServer, QuietHTTPServer

SAMPLE_PRICES_START = date(2005, 1, 3)
"""First session of every sample series (the first NYSE session of 2005)."""
SAMPLE_PRICES_END = date(2026, 11, 27)
"""Last session served: the last completed session before the sample's "today" (2026-11-29)."""
SAMPLE_UNKNOWN_TICKER = "ZZZZ"
"""Answered as an unknown symbol (every other ticker has a series)."""
SAMPLE_PRICE_SOURCE = "sample"
CALENDAR_NAME = "XNYS"
CALENDAR_START = "2005-01-01"
CALENDAR_END = "2030-12-31"
SPLIT_WINDOW = (date(2012, 1, 1), date(2022, 12, 31))
SPLIT_RATIOS = (2, 3, 4)


@lru_cache(maxsize=1)
def nyse_calendar() -> exchange_calendars.ExchangeCalendar:
    """The NYSE calendar with fixed bounds (the library's default window moves with today)."""
    return exchange_calendars.get_calendar(CALENDAR_NAME, start=CALENDAR_START, end=CALENDAR_END)


@dataclass(frozen=True)
class _Sessions:
    days: tuple[date, ...]
    days64: np.ndarray  # the same as datetime64[D], for searching
    opens: np.ndarray  # epoch seconds (UTC) of each session's open
    half_day: np.ndarray  # bool


@lru_cache(maxsize=1)
def _sessions() -> _Sessions:
    calendar = nyse_calendar()
    sessions = calendar.sessions[calendar.sessions >= SAMPLE_PRICES_START.isoformat()]
    opens = calendar.opens.loc[sessions]
    early = set(calendar.early_closes)
    days = tuple(ts.date() for ts in sessions)
    return _Sessions(
        days=days,
        days64=np.array(days, dtype="datetime64[D]"),
        opens=np.array([int(ts.timestamp()) for ts in opens], dtype=np.int64),
        half_day=np.array([ts in early for ts in sessions], dtype=bool),
    )


@dataclass(frozen=True)
class _Series:
    """One ticker over every session from SAMPLE_PRICES_START to CALENDAR_END, as traded."""

    ticker: str
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    turbulent: np.ndarray
    split_index: int
    split_ratio: int

    @property
    def split_day(self) -> date:
        return _sessions().days[self.split_index]


def _regimes(rng: np.random.Generator, n: int) -> np.ndarray:
    """A two-state Markov chain: calm spells of ~1 year, turbulent ones of ~2 months."""
    enter, leave = 1 / 250, 1 / 45
    draws = rng.random(n)
    turbulent = np.zeros(n, dtype=bool)
    state = False
    for i in range(n):
        state = draws[i] >= leave if state else draws[i] < enter
        turbulent[i] = state
    return turbulent


@lru_cache(maxsize=64)
def _series(ticker: str) -> _Series:
    sessions = _sessions()
    n = len(sessions.days)
    rng = np.random.default_rng(zlib.crc32(ticker.encode()))
    # Every draw has a fixed size (all sessions to CALENDAR_END): nothing depends on the requested range.
    first_price = float(np.exp(rng.uniform(np.log(8.0), np.log(60.0))))  # post-split basis
    drift = rng.uniform(0.04, 0.18) / 252  # of log prices: the trend net of volatility
    calm = rng.uniform(0.011, 0.017)
    storm = calm * rng.uniform(2.2, 3.0)
    base_volume = float(np.exp(rng.uniform(np.log(5e6), np.log(6e7))))  # post-split shares
    split_ratio = int(rng.choice(SPLIT_RATIOS))
    window = [i for i, day in enumerate(sessions.days) if SPLIT_WINDOW[0] <= day <= SPLIT_WINDOW[1]]
    split_index = int(window[int(rng.integers(len(window)))])
    turbulent = _regimes(rng, n)
    shocks = rng.standard_t(5, n) / np.sqrt(5 / 3)  # unit variance, fat tails
    gaps = rng.normal(0.0, 1.0, n)
    up = np.abs(rng.normal(0.0, 1.0, n))
    down = np.abs(rng.normal(0.0, 1.0, n))
    volume_noise = rng.normal(0.0, 0.25, n)

    sigma = np.where(turbulent, storm, calm)
    returns = np.clip(drift + sigma * shocks, -0.3, 0.3)
    close = first_price * np.exp(np.cumsum(returns))
    previous = np.concatenate(([first_price], close[:-1]))
    overnight = np.clip(0.3 * sigma * gaps, -0.15, 0.15)
    open_ = previous * np.exp(overnight)
    width = np.where(sessions.half_day, 0.5, 1.0) * 0.55 * sigma
    high = np.maximum(open_, close) * np.exp(width * up)
    low = np.minimum(open_, close) * np.exp(-width * down)
    years = np.arange(n) / 252
    volume = (
        base_volume
        * np.exp(volume_noise + 0.03 * years)
        * np.where(turbulent, 1.7, 1.0)
        * np.where(sessions.half_day, 0.45, 1.0)
        * (1 + 0.25 * np.abs(shocks))
    )

    # As traded: before the split each share is worth `ratio` post-split shares, and fewer of them trade.
    factor = np.where(np.arange(n) < split_index, float(split_ratio), 1.0)
    series = {
        "open": np.round(open_ * factor, 2),
        "high": np.round(high * factor, 2),
        "low": np.round(low * factor, 2),
        "close": np.round(close * factor, 2),
        "volume": np.round(volume / factor),
    }
    for values in series.values():
        values.setflags(write=False)
    return _Series(
        ticker=ticker,
        turbulent=turbulent,
        split_index=split_index,
        split_ratio=split_ratio,
        **series,
    )


def _known(ticker: str) -> _Series:
    if not ticker.strip() or ticker == SAMPLE_UNKNOWN_TICKER:
        raise PriceSourceTickerError(
            f"{ticker}: unknown symbol - the offline sample has no prices for {ticker!r} (it answers every ticker "
            f"but {SAMPLE_UNKNOWN_TICKER}, which stands for an unknown or delisted one). Skipping this ticker.",
            ticker=ticker,
            source=SAMPLE_PRICE_SOURCE,
        )
    return _series(ticker)


def _indices(start: date, end: date) -> range:
    """Positions of the sessions in ``[start, end]`` that are served (up to SAMPLE_PRICES_END)."""
    days = _sessions().days64
    last = min(end, SAMPLE_PRICES_END)
    lo = int(np.searchsorted(days, np.datetime64(start, "D"), side="left"))
    hi = int(np.searchsorted(days, np.datetime64(last, "D"), side="right"))
    return range(lo, max(lo, hi))


def sample_daily_history(ticker: str, start: date, end: date) -> PriceHistory:
    """The sample's daily bars (as traded) of ``ticker`` for the NYSE sessions in ``[start, end]``.

    Only sessions from :data:`SAMPLE_PRICES_START` to :data:`SAMPLE_PRICES_END` exist; ``splits`` holds the
    ticker's split when it falls in the range. Raises ``PriceSourceTickerError`` for
    :data:`SAMPLE_UNKNOWN_TICKER` and for a range without a served session; ``ValueError`` when start > end.
    """
    check_range(start, end)
    series = _known(ticker)
    index = _indices(start, end)
    if not index:
        raise PriceSourceTickerError(
            f"{ticker}: the offline sample has no session between {start.isoformat()} and {end.isoformat()} "
            f"(it serves NYSE sessions from {SAMPLE_PRICES_START.isoformat()} to {SAMPLE_PRICES_END.isoformat()}). "
            "Skipping this ticker.",
            ticker=ticker,
            source=SAMPLE_PRICE_SOURCE,
        )
    days = _sessions().days
    columns = [series.open, series.high, series.low, series.close, series.volume]
    rows = [[float(column[i]) for column in columns] for i in index]
    bars = tuple(DailyBar(days[i], *row) for i, row in zip(index, rows, strict=True))
    splits: tuple[tuple[date, float], ...] = ()
    if series.split_index in index:
        splits = ((series.split_day, float(series.split_ratio)),)
    raw = json.dumps(
        {
            "ticker": ticker,
            "source": SAMPLE_PRICE_SOURCE,
            "columns": ["day", "open", "high", "low", "close", "volume"],
            "bars": [[days[i].isoformat(), *row] for i, row in zip(index, rows, strict=True)],
            "splits": [[day.isoformat(), ratio] for day, ratio in splits],
        },
        separators=(",", ":"),
    ).encode()
    return PriceHistory(ticker=ticker, bars=bars, splits=splits, source=SAMPLE_PRICE_SOURCE, raw=raw)


def sample_splits(ticker: str) -> tuple[tuple[date, float], ...]:
    """Every split of ``ticker`` up to :data:`SAMPLE_PRICES_END` (what Yahoo adjusts its arrays for)."""
    return sample_daily_history(ticker, SAMPLE_PRICES_START, SAMPLE_PRICES_END).splits


# ------------------------------------------------------------------------------------------------- Yahoo server

NOT_FOUND: dict[str, Any] = {
    "chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}
}
TOO_MANY_REQUESTS = b"Too Many Requests\r\n"
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
VALID_INTERVALS = "[1m, 2m, 5m, 15m, 30m, 60m, 90m, 1h, 1d, 5d, 1wk, 1mo, 3mo]"
ALL_QUOTE_FIELDS = ("open", "high", "low", "close", "volume")


def _chart_error(code: str, description: str) -> dict[str, Any]:
    return {"chart": {"result": None, "error": {"code": code, "description": description}}}


@dataclass(frozen=True)
class ChartRequest:
    """One request as the sample server saw it."""

    path: str
    ticker: str
    params: dict[str, str]
    user_agent: str
    time: float
    """``time.monotonic()`` when the request arrived."""


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json;charset=utf-8"


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class _ChartHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: QuietHTTPServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        reply = self.server.app.answer(parts.path, params, self.headers.get("User-Agent", ""))
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        return


class YahooChartSampleServer(LocalHttpServer):
    """Local Yahoo Finance chart API (``GET /v8/finance/chart/<ticker>``) over the sample series. A context manager.

    Answers like the real endpoint: quote arrays split-**adjusted** for every split up to
    :data:`SAMPLE_PRICES_END` (prices divided, volumes multiplied by the ratio), ``adjclose`` (no dividends in the
    sample, so equal to the adjusted close) when ``includeAdjustedClose=true``, splits inside
    ``[period1, period2)`` in ``events.splits`` when ``events`` asks for them, timestamps at each session's open
    (09:30 New York time, in epoch seconds), a result without ``timestamp`` for a period with no session, HTTP 400
    for a period before the first session, HTTP 404 with Yahoo's body for :data:`SAMPLE_UNKNOWN_TICKER`.
    """

    handler = _ChartHandler
    thread_name = "yahoo-chart-sample"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ChartRequest] = []
        self._throttled = 0
        self._throttle_status = 429
        self._blanks: dict[tuple[str, date], frozenset[str]] = {}

    # ------------------------------------------------------------------------------------- test helpers

    @property
    def requests(self) -> list[ChartRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def throttle(self, times: int, *, status: int = 429) -> None:
        """Answer the next ``times`` requests with HTTP ``status`` (429: Yahoo's ``Too Many Requests``)."""
        with self._lock:
            self._throttled, self._throttle_status = times, status

    def blank(self, ticker: str, day: date, fields: Iterable[str] = ALL_QUOTE_FIELDS) -> None:
        """Serve ``null`` for ``fields`` of ``ticker`` on ``day`` (all of them: a session without trades)."""
        chosen = frozenset(fields)
        if not chosen <= set(ALL_QUOTE_FIELDS):
            raise ValueError(f"fields must be among {ALL_QUOTE_FIELDS}")
        with self._lock:
            self._blanks[(ticker, day)] = chosen

    def reset(self) -> None:
        """Forget recorded requests, pending throttling and blanked days."""
        with self._lock:
            self._requests.clear()
            self._throttled = 0
            self._blanks.clear()

    # ------------------------------------------------------------------------------------- answering

    def answer(self, path: str, params: dict[str, str], user_agent: str) -> _Reply:
        prefix = "/v8/finance/chart/"
        ticker = unquote(path[len(prefix) :]) if path.startswith(prefix) else ""
        with self._lock:
            self._requests.append(ChartRequest(path, ticker, dict(params), user_agent, time.monotonic()))
            if self._throttled > 0:
                self._throttled -= 1
                if self._throttle_status == 429:
                    return _Reply(429, TOO_MANY_REQUESTS, "text/plain;charset=utf-8")
                return _Reply(self._throttle_status, b"<html><body>Service unavailable</body></html>", "text/html")
            blanks = {day: fields for (name, day), fields in self._blanks.items() if name == ticker}
        if not ticker or "/" in ticker:
            return _Reply(404, _json(_chart_error("Not Found", "Not Found")))
        if ticker == SAMPLE_UNKNOWN_TICKER:
            return _Reply(404, _json(NOT_FOUND))
        interval = params.get("interval", "1d")
        if interval != "1d":
            return _Reply(
                422,
                _json(
                    _chart_error(
                        "Unprocessable Entity",
                        f"Invalid input - interval={interval} is not supported. Valid intervals: {VALID_INTERVALS}",
                    )
                ),
            )
        try:
            period1, period2 = int(params["period1"]), int(params["period2"])
        except (KeyError, ValueError):
            return _Reply(400, _json(_chart_error("Bad Request", "Invalid input - period1 and period2 are required")))
        if period1 > period2:
            return _Reply(
                400,
                _json(
                    _chart_error(
                        "Bad Request",
                        f"Invalid input - start date cannot be after end date. startDate = {period1}, "
                        f"endDate = {period2}",
                    )
                ),
            )
        body = self.chart(
            ticker,
            period1,
            period2,
            events="split" in params.get("events", ""),
            adjclose=params.get("includeAdjustedClose", "false") == "true",
            blanks=blanks,
        )
        if body is None:
            return _Reply(
                400,
                _json(
                    _chart_error("Bad Request", f"Data doesn't exist for startDate = {period1}, endDate = {period2}")
                ),
            )
        return _Reply(200, _json(body))

    def chart(
        self,
        ticker: str,
        period1: int,
        period2: int,
        *,
        events: bool = True,
        adjclose: bool = True,
        blanks: dict[date, frozenset[str]] | None = None,
    ) -> dict[str, Any] | None:
        """The chart answer's JSON for ``[period1, period2)`` (``None``: the period ends before the first session)."""
        sessions = _sessions()
        series = _series(ticker)
        served = _indices(SAMPLE_PRICES_START, SAMPLE_PRICES_END)
        if period2 <= int(sessions.opens[0]):
            return None
        opens = sessions.opens[: served.stop]
        index: list[int] = np.flatnonzero((opens >= period1) & (opens < period2)).tolist()
        adjust = np.where(np.arange(served.stop) < series.split_index, float(series.split_ratio), 1.0)
        last = served.stop - 1
        result: dict[str, Any] = {"meta": self._meta(series, last, adjust)}
        if not index:
            result["indicators"] = {"quote": [{}], **({"adjclose": [{}]} if adjclose else {})}
            return {"chart": {"result": [result], "error": None}}
        result["timestamp"] = [int(opens[i]) for i in index]
        if events and series.split_index in index:
            stamp = int(opens[series.split_index])
            result["events"] = {
                "splits": {
                    str(stamp): {
                        "date": stamp,
                        "numerator": series.split_ratio,
                        "denominator": 1,
                        "splitRatio": f"{series.split_ratio}:1",
                    }
                }
            }
        quote: dict[str, list[float | int | None]] = {}
        for name in ("open", "high", "low", "close"):
            column = getattr(series, name)
            quote[name] = [float(column[i] / adjust[i]) for i in index]
        quote["volume"] = [int(series.volume[i] * adjust[i]) for i in index]
        for position, i in enumerate(index):
            for name in (blanks or {}).get(sessions.days[i], frozenset()):
                quote[name][position] = None
        indicators: dict[str, Any] = {"quote": [quote]}
        if adjclose:
            indicators["adjclose"] = [{"adjclose": list(quote["close"])}]
        result["indicators"] = indicators
        return {"chart": {"result": [result], "error": None}}

    @staticmethod
    def _meta(series: _Series, last: int, adjust: np.ndarray) -> dict[str, Any]:
        sessions = _sessions()
        year = max(0, last - 251)
        last_open = int(sessions.opens[last])
        now = datetime.fromtimestamp(last_open, UTC).replace(hour=21, minute=0)
        return {
            "currency": "USD",
            "symbol": series.ticker,
            "exchangeName": "NMS",
            "fullExchangeName": "NasdaqGS",
            "instrumentType": "EQUITY",
            "firstTradeDate": int(sessions.opens[0]),
            "regularMarketTime": int(now.timestamp()),
            "hasPrePostMarketData": True,
            "gmtoffset": -18000,
            "timezone": "EST",
            "exchangeTimezoneName": "America/New_York",
            "regularMarketPrice": float(series.close[last]),
            "fiftyTwoWeekHigh": float(np.max(series.high[year : last + 1] / adjust[year : last + 1])),
            "fiftyTwoWeekLow": float(np.min(series.low[year : last + 1] / adjust[year : last + 1])),
            "regularMarketDayHigh": float(series.high[last]),
            "regularMarketDayLow": float(series.low[last]),
            "regularMarketVolume": int(series.volume[last]),
            "longName": f"{series.ticker} Sample Holdings, Inc.",
            "shortName": f"{series.ticker} Sample Holdings",
            "chartPreviousClose": float(series.close[max(0, last - 1)]),
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": {"timezone": "EST", "start": last_open - 19800, "end": last_open, "gmtoffset": -18000},
                "regular": {"timezone": "EST", "start": last_open, "end": last_open + 23400, "gmtoffset": -18000},
                "post": {
                    "timezone": "EST",
                    "start": last_open + 23400,
                    "end": last_open + 37800,
                    "gmtoffset": -18000,
                },
            },
            "dataGranularity": "1d",
            "range": "",
            "validRanges": VALID_RANGES,
        }
