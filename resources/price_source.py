"""Daily prices per ticker (OHLCV and splits), behind one small interface with interchangeable providers.

:class:`PriceSource` is what the forecasting domain talks to; :meth:`PriceSource.daily_history` answers a
:class:`PriceHistory` for one ticker and an inclusive range of days, fetched in **one request per call** (per
endpoint: Alpha Vantage needs two), however long the range (a backfill of a range fetches it in one call).
Implementations:

- :class:`YahooChartPriceSource`: Yahoo Finance's chart API (the endpoint the yfinance library calls).
  Its quote arrays are **split-adjusted** as of the day of the request: a new split rewrites the whole history
  before it (prices divided, volumes multiplied by the ratio), so an archived answer and a later one disagree
  on every day before that split.
- :class:`AlphaVantagePriceSource`: Alpha Vantage ``TIME_SERIES_DAILY`` (as traded, *not* split-adjusted) and
  ``SPLITS``, through the shared, rate-limited :class:`~resources.alpha_vantage.AlphaVantageResource`.
- ``SamplePriceSource``: the offline sample generator, as traded (a subclass only ``environments.py`` picks, locally).

Contract of :meth:`PriceSource.daily_history`:

- bars are the exchange's sessions in ``[start, end]`` (local dates), oldest first, one per day; ``splits``
  are the splits effective within ``[start, end]`` (ratio new shares / old shares, 4.0 for 4:1); ``raw`` is the
  provider's answer exactly as received (bytes), for archiving;
- an unknown ticker, an answer without a single bar in the range, or a malformed answer raises
  :class:`PriceSourceTickerError` (``scope = "ticker"``): skip this ticker, go on with the others;
- anything every ticker would hit the same way (a bad key or plan, a blocked client, throttling or outages
  still failing after the retries) raises :class:`PriceSourceError` (``scope = "run"``): stop the run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from pydantic import Field, PrivateAttr

from resources.alpha_vantage import AlphaVantageError, AlphaVantageResource
from resources.http import (
    HTTPRequestError,
    RetriesExhausted,
    RetryPolicy,
    SessionHolder,
    call_with_retries,
    check_transient_status,
    get,
)

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DailyBar:
    """One session of one ticker: ``day`` is the exchange's local date."""

    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True)
class PriceHistory:
    """The daily bars of one ticker over a range of days, as one provider answered them."""

    ticker: str
    bars: tuple[DailyBar, ...]
    """Oldest first, one per session."""
    splits: tuple[tuple[date, float], ...]
    """(effective day, ratio new shares / old shares), oldest first: ``4.0`` for a 4:1 split."""
    source: str
    """The provider (:attr:`PriceSource.source`)."""
    raw: bytes
    """The provider's answer exactly as received, to be archived."""


# ------------------------------------------------------------------------------------------------- errors


def _rebuild(cls: type[Exception], message: str, ticker: str | None, source: str | None) -> Exception:
    return cls(message, ticker=ticker, source=source)


class _PriceSourceFailure(Exception):
    scope: ClassVar[str] = "run"

    def __init__(self, message: str, *, ticker: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ticker = ticker
        self.source = source

    def __reduce__(self) -> tuple[Any, ...]:  # keyword-only arguments: teach pickle (Dagster ships errors around)
        return (_rebuild, (type(self), self.message, self.ticker, self.source))


class PriceSourceTickerError(_PriceSourceFailure):
    """This ticker cannot be priced (unknown symbol, no bar in the range, malformed answer): skip it."""

    scope: ClassVar[str] = "ticker"


class PriceSourceError(_PriceSourceFailure):
    """Stop the run: every ticker would fail the same way (key, plan, blocked, provider down or throttling)."""

    scope: ClassVar[str] = "run"


# ------------------------------------------------------------------------------------------------- interface


class PriceSource(dg.ConfigurableResource):
    """Interface of a daily price provider (see the module docstring for the contract)."""

    def daily_history(self, ticker: str, start: date, end: date) -> PriceHistory:
        """Daily bars of ``ticker`` for the sessions in ``[start, end]`` (inclusive), in one request.

        Raises :class:`PriceSourceTickerError` (skip this ticker) or :class:`PriceSourceError` (stop the run);
        ``ValueError`` when ``start`` is after ``end``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement daily_history")

    @property
    def source(self) -> str:
        """Short name of the provider, stored with every history (:attr:`PriceHistory.source`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement source")

    @property
    def split_adjusted(self) -> bool:
        """Whether the bars are already adjusted for every split up to the request (Yahoo), rather than as
        traded with the splits as events (Alpha Vantage, the sample)."""
        return False


def check_range(start: date, end: date) -> None:
    """``ValueError`` unless ``start <= end`` (both dates, not datetimes)."""
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise ValueError(f"start and end must be dates, not datetimes (got {start!r}, {end!r}).")
    if start > end:
        raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}: the range is empty.")


def _number(value: object) -> float | None:
    """A finite, non-negative JSON number (bools excluded); ``None`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


# ------------------------------------------------------------------------------------------------- Yahoo

YAHOO_SOURCE = "yahoo_chart"
YAHOO_BASE_URL = "https://query2.finance.yahoo.com"
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
"""Yahoo refuses or throttles clients that do not look like a browser (the default ``python-requests`` agent)."""
QUOTE_FIELDS = ("open", "high", "low", "close", "volume")
PRICE_FIELDS = ("open", "high", "low", "close")
_SNIPPET_CHARS = 80


def _snippet(body: bytes) -> str:
    flat = " ".join(body[:400].decode("utf-8", errors="replace").split())
    return flat[:_SNIPPET_CHARS] + ("..." if len(flat) > _SNIPPET_CHARS else "")


def _epoch(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())


def chart_period(start: date, end: date) -> tuple[int, int]:
    """``(period1, period2)`` asked for ``[start, end]``: UTC midnights, padded by a day on each side.

    Yahoo stamps a daily bar with the session's open in the exchange's zone, so a session's UTC time can fall
    on the day before its local date (Asia) or after it; the padding catches every session whose *local* date
    is in the range, and :func:`parse_chart` keeps exactly those.
    """
    return _epoch(start - timedelta(days=1)), _epoch(end + timedelta(days=2))


def _chart_error(payload: object) -> tuple[str, str] | None:
    """``(code, description)`` of a ``{"chart": {"error": {...}}}`` answer, ``None`` when it carries none."""
    chart = payload.get("chart") if isinstance(payload, Mapping) else None
    error = chart.get("error") if isinstance(chart, Mapping) else None
    if not isinstance(error, Mapping):
        return None
    return str(error.get("code") or "unknown"), str(error.get("description") or "no description")


def parse_chart(
    payload: object, ticker: str, start: date, end: date
) -> tuple[list[DailyBar], list[tuple[date, float]]]:
    """Bars and splits of one Yahoo chart answer (``interval=1d``) whose local date is in ``[start, end]``.

    Timestamps are converted to local dates with ``meta.exchangeTimezoneName`` (the tz database, so daylight
    saving time is right). A day whose open, high, low and close are all ``null`` is skipped (Yahoo sends them
    for sessions without trades); a row with only some ``null`` values, a non-number or a negative value is
    malformed. A date sent twice keeps the later row (Yahoo can send the live bar next to the day's bar).

    Raises :class:`PriceSourceTickerError` naming the ticker for an error answer, a malformed one, or one
    without a single bar in the range.
    """

    def malformed(what: str) -> PriceSourceTickerError:
        return PriceSourceTickerError(
            f"{ticker}: Yahoo Finance's chart answer is malformed ({what}). Skipping this ticker.",
            ticker=ticker,
            source=YAHOO_SOURCE,
        )

    error = _chart_error(payload)
    if error is not None:
        code, description = error
        raise PriceSourceTickerError(
            f"{ticker}: Yahoo Finance answered {code!r}: {description!r}. Check the symbol (Yahoo's spelling, "
            "e.g. BRK-B); skipping this ticker.",
            ticker=ticker,
            source=YAHOO_SOURCE,
        )
    chart = payload.get("chart") if isinstance(payload, Mapping) else None
    if not isinstance(chart, Mapping):
        raise malformed("no 'chart' object")
    results = chart.get("result")
    if not isinstance(results, list) or not results or not isinstance(results[0], Mapping):
        raise malformed("'chart.result' is not a list holding one result")
    result: Mapping[str, Any] = results[0]
    meta = result.get("meta")
    zone_name = meta.get("exchangeTimezoneName") if isinstance(meta, Mapping) else None
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise malformed(f"meta.exchangeTimezoneName {zone_name!r} is not a known time zone") from None

    stamps = result.get("timestamp")
    if stamps is None or stamps == []:
        raise PriceSourceTickerError(
            f"{ticker}: Yahoo Finance has no daily bar between {start.isoformat()} and {end.isoformat()} (an empty "
            "answer): no session in the range, or the symbol did not trade then. Skipping this ticker.",
            ticker=ticker,
            source=YAHOO_SOURCE,
        )
    indicators = result.get("indicators")
    quotes = indicators.get("quote") if isinstance(indicators, Mapping) else None
    quote_arrays = quotes[0] if isinstance(quotes, list) and quotes else None
    if not isinstance(stamps, list) or not isinstance(quote_arrays, Mapping):
        raise malformed("no 'timestamp' list or no 'indicators.quote' arrays")
    columns: dict[str, Sequence[object]] = {}
    for name in QUOTE_FIELDS:
        column = quote_arrays.get(name)
        if not isinstance(column, list) or len(column) != len(stamps):
            raise malformed(f"'{name}' is not a list as long as 'timestamp' ({len(stamps)} entries)")
        columns[name] = column

    bars: dict[date, DailyBar] = {}
    for i, stamp in enumerate(stamps):
        if isinstance(stamp, bool) or not isinstance(stamp, int):
            raise malformed(f"timestamp #{i} is {stamp!r}, not an epoch in seconds")
        day = datetime.fromtimestamp(stamp, zone).date()
        if not start <= day <= end:
            continue
        row = {name: columns[name][i] for name in QUOTE_FIELDS}
        if all(row[name] is None for name in PRICE_FIELDS):
            continue  # a session without trades: Yahoo sends the day with nulls
        missing = [name for name in QUOTE_FIELDS if row[name] is None]
        if missing:
            raise malformed(f"the row of {day.isoformat()} has null {', '.join(missing)} next to values")
        values = {name: _number(row[name]) for name in QUOTE_FIELDS}
        bad = [f"{name}={row[name]!r}" for name, value in values.items() if value is None]
        if bad:
            raise malformed(f"the row of {day.isoformat()} has impossible values ({', '.join(bad)})")
        bars[day] = DailyBar(day=day, **values)  # type: ignore[arg-type]
    if not bars:
        raise PriceSourceTickerError(
            f"{ticker}: Yahoo Finance answered no daily bar between {start.isoformat()} and {end.isoformat()}: no "
            "session in the range, or the symbol did not trade then. Skipping this ticker.",
            ticker=ticker,
            source=YAHOO_SOURCE,
        )

    splits: dict[date, float] = {}
    events = result.get("events")
    raw_splits = events.get("splits") if isinstance(events, Mapping) else None
    if raw_splits is not None and not isinstance(raw_splits, Mapping):
        raise malformed("'events.splits' is not an object")
    for key, split in (raw_splits or {}).items():
        stamp = split.get("date") if isinstance(split, Mapping) else None
        numerator = _number(split.get("numerator")) if isinstance(split, Mapping) else None
        denominator = _number(split.get("denominator")) if isinstance(split, Mapping) else None
        if isinstance(stamp, bool) or not isinstance(stamp, int) or not numerator or not denominator:
            raise malformed(f"split {key!r} has no usable date, numerator and denominator")
        day = datetime.fromtimestamp(stamp, zone).date()
        if start <= day <= end:
            splits[day] = numerator / denominator
    return [bars[day] for day in sorted(bars)], sorted(splits.items())


class YahooChartPriceSource(PriceSource):
    """Yahoo Finance's chart API (``GET {base_url}/v8/finance/chart/{ticker}``, the endpoint yfinance calls).

    One request per call: ``period1``/``period2`` (epoch seconds, see :func:`chart_period`), ``interval=1d``,
    ``events=split``, ``includeAdjustedClose=true``, with a browser-like User-Agent. No key is needed.

    **Split-adjusted**: Yahoo's ``open/high/low/close`` arrays are adjusted for every split known on the day of
    the request (``volume`` multiplied by the ratio; ``adjclose``, not used, also adjusts for dividends), so a new
    split rewrites the history before it, and ``splits`` lists only the splits inside the requested range. Keep
    ``raw`` (the answer as received) if an as-of view is ever needed.

    HTTP 429 (throttled), 5xx, timeouts and connection failures are retried with exponential backoff
    (``max_attempts`` in all) and then stop the run (:class:`PriceSourceError`); HTTP 404 (``Not Found``: unknown
    or delisted symbol) and a ``chart.error`` answer fail the ticker at once; HTTP 401/403 (blocked) stop the run.
    """

    base_url: str = Field(default=YAHOO_BASE_URL, description="Yahoo Finance's API host (another one in tests).")
    user_agent: str = Field(default=BROWSER_USER_AGENT, description="User-Agent header (Yahoo blocks bots).")
    timeout_seconds: float = Field(default=30, description="Per-request HTTP timeout (connect and each read).")
    max_attempts: int = Field(default=4, description="Attempts per call, first one included.")
    backoff_initial_seconds: float = Field(default=2.0, description="First retry wait (doubles each time).")
    backoff_max_seconds: float = Field(default=30.0, description="Longest single retry wait.")

    _sessions: SessionHolder = PrivateAttr(default_factory=SessionHolder)

    @property
    def source(self) -> str:
        return YAHOO_SOURCE

    @property
    def split_adjusted(self) -> bool:
        return True

    def daily_history(self, ticker: str, start: date, end: date) -> PriceHistory:
        check_range(start, end)
        period1, period2 = chart_period(start, end)
        url = f"{self.base_url.rstrip('/')}/v8/finance/chart/{quote(ticker, safe='')}"
        params = {
            "period1": str(period1),
            "period2": str(period2),
            "interval": "1d",
            "events": "split",
            "includeAdjustedClose": "true",
        }
        policy = RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_initial_seconds=self.backoff_initial_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
        )
        failure: PriceSourceError | None = None
        try:
            raw = call_with_retries(
                lambda _: self._attempt(url, params, ticker),
                policy,
                name=f"Yahoo chart {ticker}:",
                log_level=logging.WARNING,
            )
        except RetriesExhausted as exc:
            failure = PriceSourceError(
                f"{ticker}: Yahoo Finance {exc}, so the run stops (every ticker would meet the same). If it is HTTP "
                "429, Yahoo is throttling this machine's address: wait (often an hour) before running again; "
                "otherwise check the network and base_url.",
                ticker=ticker,
                source=YAHOO_SOURCE,
            )
        if failure is not None:
            raise failure  # outside the except block: no requests exception chained to it
        try:
            payload = json.loads(raw)
        except ValueError:
            raise PriceSourceTickerError(
                f"{ticker}: Yahoo Finance answered something that is not JSON (starts with {_snippet(raw)!r}). "
                "Skipping this ticker.",
                ticker=ticker,
                source=YAHOO_SOURCE,
            ) from None
        bars, splits = parse_chart(payload, ticker, start, end)
        return PriceHistory(ticker=ticker, bars=tuple(bars), splits=tuple(splits), source=YAHOO_SOURCE, raw=raw)

    def close(self) -> None:
        """Close the HTTP session (a later call opens a new one)."""
        self._sessions.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- internals

    def _attempt(self, url: str, params: dict[str, str], ticker: str) -> bytes:
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        other: str | None = None
        try:
            response = get(self._sessions.session(), url, params=params, headers=headers, timeout=self.timeout_seconds)
        except HTTPRequestError as exc:  # invalid URL, too many redirects: retrying will not help
            other = exc.what
        if other is not None:
            raise PriceSourceError(
                f"{ticker}: the request to Yahoo Finance {other}; check base_url ({self.base_url!r}). Stopping the "
                "run.",
                ticker=ticker,
                source=YAHOO_SOURCE,
            )
        check_transient_status(response, also=(429,))
        status, body = response.status_code, response.content
        if status == 200:
            return body
        error: tuple[str, str] | None = None
        with contextlib.suppress(ValueError):
            error = _chart_error(json.loads(body))
        said = f"{error[0]!r}: {error[1]!r}" if error else repr(_snippet(body))
        if status in (401, 403):
            raise PriceSourceError(
                f"{ticker}: Yahoo Finance refused the request with HTTP {status} ({said}): this client is blocked "
                "(User-Agent, address or region). Every ticker would fail the same way, so the run stops.",
                ticker=ticker,
                source=YAHOO_SOURCE,
            )
        if status == 404 or (status == 400 and error is not None):
            raise PriceSourceTickerError(
                f"{ticker}: Yahoo Finance answered HTTP {status} ({said}): the symbol is unknown or delisted, or has "
                "no data in the range. Check the symbol (Yahoo's spelling, e.g. BRK-B); skipping this ticker.",
                ticker=ticker,
                source=YAHOO_SOURCE,
            )
        raise PriceSourceError(
            f"{ticker}: Yahoo Finance answered HTTP {status} ({said}) to the chart request; the API may have "
            "changed. Stopping the run.",
            ticker=ticker,
            source=YAHOO_SOURCE,
        )


# ------------------------------------------------------------------------------------------------- Alpha Vantage

ALPHA_VANTAGE_SOURCE = "alpha_vantage"
DAILY_FIELDS = {"open": "1. open", "high": "2. high", "low": "3. low", "close": "4. close", "volume": "5. volume"}
"""Bar attribute -> Alpha Vantage's key in one row of ``Time Series (Daily)``."""


def _av_malformed(ticker: str, what: str) -> PriceSourceTickerError:
    return PriceSourceTickerError(
        f"{ticker}: Alpha Vantage's answer is malformed ({what}). Skipping this ticker.",
        ticker=ticker,
        source=ALPHA_VANTAGE_SOURCE,
    )


def _av_day(value: object, ticker: str, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _av_malformed(ticker, f"{where} {value!r} is not a YYYY-MM-DD date") from None


def _av_number(row: Mapping[str, Any], key: str, ticker: str, where: str) -> float:
    raw = row.get(key)
    try:
        value = float(raw)  # type: ignore[arg-type]  # every number is a string; a missing one "None"
    except (TypeError, ValueError):
        raise _av_malformed(ticker, f"{where} has no usable {key!r} ({raw!r})") from None
    if not math.isfinite(value) or value < 0:
        raise _av_malformed(ticker, f"{where} has an impossible {key!r} ({raw!r})")
    return value


def parse_alpha_vantage_daily(payload: Mapping[str, Any], ticker: str, start: date, end: date) -> list[DailyBar]:
    """Bars of one ``TIME_SERIES_DAILY`` answer (as traded) dated in ``[start, end]``, oldest first.

    Raises :class:`PriceSourceTickerError` for a missing series, a bad date or value, or no bar in the range.
    """
    series = payload.get("Time Series (Daily)")
    if not isinstance(series, Mapping):
        raise _av_malformed(ticker, "no 'Time Series (Daily)' object")
    bars: dict[date, DailyBar] = {}
    for stamp, row in series.items():
        day = _av_day(stamp, ticker, "the series key")
        if not start <= day <= end:
            continue
        if not isinstance(row, Mapping):
            raise _av_malformed(ticker, f"the row of {stamp} is not an object")
        values = {name: _av_number(row, key, ticker, f"the row of {stamp}") for name, key in DAILY_FIELDS.items()}
        bars[day] = DailyBar(day=day, **values)
    if not bars:
        raise PriceSourceTickerError(
            f"{ticker}: Alpha Vantage has no daily bar between {start.isoformat()} and {end.isoformat()}: no session "
            "in the range, or the symbol did not trade then (or outputsize=compact left it out). Skipping this ticker.",
            ticker=ticker,
            source=ALPHA_VANTAGE_SOURCE,
        )
    return [bars[day] for day in sorted(bars)]


def parse_alpha_vantage_splits(
    payload: Mapping[str, Any], ticker: str, start: date, end: date
) -> list[tuple[date, float]]:
    """``(effective day, split_factor)`` of one ``SPLITS`` answer in ``[start, end]``, oldest first."""
    data = payload.get("data")
    if not isinstance(data, list):
        raise _av_malformed(ticker, "the SPLITS answer has no 'data' list")
    splits: dict[date, float] = {}
    for entry in data:
        if not isinstance(entry, Mapping):
            raise _av_malformed(ticker, f"a SPLITS entry is not an object ({entry!r})")
        day = _av_day(entry.get("effective_date"), ticker, "a SPLITS effective_date")
        factor = _av_number(entry, "split_factor", ticker, f"the split of {day.isoformat()}")
        if factor == 0:
            raise _av_malformed(ticker, f"the split of {day.isoformat()} has a factor of 0")
        if start <= day <= end:
            splits[day] = factor
    return sorted(splits.items())


class AlphaVantagePriceSource(PriceSource):
    """Alpha Vantage ``TIME_SERIES_DAILY`` (prices as traded) and ``SPLITS``: two requests per call.

    ``outputsize=full`` (the whole history, a premium feature) answers any range in one request; ``compact``
    (the last 100 sessions, free keys) answers only recent ranges. The client's ticker-scoped errors (unknown
    symbol, empty or malformed body, retries exhausted) become :class:`PriceSourceTickerError`; the others (key,
    plan, daily quota) :class:`PriceSourceError`. ``raw`` is ``{"TIME_SERIES_DAILY": <answer>, "SPLITS":
    <answer>}`` as one JSON document.
    """

    alpha_vantage: AlphaVantageResource = Field(description="The shared, rate-limited Alpha Vantage client.")
    outputsize: str = Field(default="full", description="full (whole history, premium) or compact (last 100 days).")

    @property
    def source(self) -> str:
        return ALPHA_VANTAGE_SOURCE

    def daily_history(self, ticker: str, start: date, end: date) -> PriceHistory:
        check_range(start, end)
        daily = self._get(ticker, "TIME_SERIES_DAILY", outputsize=self.outputsize)
        splits = self._get(ticker, "SPLITS")
        raw = json.dumps({"TIME_SERIES_DAILY": daily, "SPLITS": splits}).encode()
        return PriceHistory(
            ticker=ticker,
            bars=tuple(parse_alpha_vantage_daily(daily, ticker, start, end)),
            splits=tuple(parse_alpha_vantage_splits(splits, ticker, start, end)),
            source=ALPHA_VANTAGE_SOURCE,
            raw=raw,
        )

    def _get(self, ticker: str, function: str, **params: str) -> dict[str, Any]:
        try:
            return self.alpha_vantage.get(function, ticker, **params)
        except AlphaVantageError as exc:
            # The client's messages already say what to do (skip the ticker, fix the key or plan, wait a day).
            error = PriceSourceTickerError if exc.scope == "ticker" else PriceSourceError
            raise error(f"{ticker}: {exc.message}", ticker=ticker, source=ALPHA_VANTAGE_SOURCE) from exc
