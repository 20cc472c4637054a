"""Deterministic offline Alpha Vantage: responses in the exact API shapes for a synthetic universe.

Written by this project (no Alpha Vantage data is copied): :class:`SampleAlphaVantageData` invents a universe
of companies and answers ``response(function, params)`` with the body Alpha Vantage would send — every number
a JSON string, a missing value the string ``"None"``, reports newest first, ``fiscalDateEnding`` on calendar
quarter month-ends, ``reportedCurrency`` ``"USD"``. The same constructor arguments always give byte-identical
JSON: every ticker draws from ``numpy.random.default_rng((seed, zlib.crc32(symbol), stream))``, never from
Python's ``hash()``.

Functions answered: INCOME_STATEMENT, BALANCE_SHEET, CASH_FLOW, EARNINGS, TIME_SERIES_DAILY,
TIME_SERIES_DAILY_ADJUSTED, TIME_SERIES_INTRADAY, SPLITS, DIVIDENDS, OVERVIEW (per ticker) and ETF_PROFILE
(for :data:`ETF_SYMBOLS`). Anything else — an unknown function or a symbol outside the universe — gets the
``Invalid API call`` body (OVERVIEW answers ``{}`` for an unknown symbol, as the real API does).

The default universe (``n_tickers=10``) holds one ticker per special case, named by these constants:

- :data:`ORDINARY_TICKER` ``AXQT``: nothing special, post-market reporter.
- :data:`SPLIT_TICKER` ``BZLK``: a 4:1 split effective :data:`SPLIT_DATE` (2020-08-31). Prices are as traded,
  so closes before it are ~4x those after; statements' ``commonStockSharesOutstanding`` (and EPS, dividends
  per share) are as reported, so shares jump 4x from the first quarter ending after the split (2020-09-30).
  SPLITS answers ``[{effective_date: 2020-08-31, split_factor: 4.0000}]``; every other ticker ``data: []``.
- :data:`WEEKEND_REPORT_TICKER` ``CRWQ``: the quarter :data:`WEEKEND_REPORT_QUARTER` was reported on a
  Saturday (EARNINGS ``reportedDate``). All other reported dates fall on weekdays.
- :data:`PRE_MARKET_TICKER` ``DVNX``: always reports ``pre-market``; the others report ``post-market``
  (mostly: ordinary tickers report pre-market about one quarter in eight), :data:`POST_MARKET_TICKER`
  ``HWMZ`` always post-market.
- :data:`MISSING_QUARTER_TICKER` ``EQZT``: BALANCE_SHEET lacks the quarter :data:`MISSING_QUARTER`
  (2015-06-30); the other statements and EARNINGS have it.
- :data:`NONE_VALUES_TICKER` ``FJRX``: ``depreciation`` is always ``"None"``.
- :data:`OUTLIER_TICKER` ``GHXV``: ``totalRevenue`` of :data:`OUTLIER_QUARTER` (2012-09-30) is 10x its true
  value (a one-quarter spike in one metric; nothing else in that report moves).
- :data:`SHARE_CLASS_TICKER` ``KILO-B``: a share class spelled with a dash.
- :data:`ERROR_TICKER` ``ZZDL``: delisted: every function answers ``{"Error Message": "Invalid API call..."}``
  (OVERVIEW answers ``{}``). It is still listed in the ETF holdings, as stale index data would be.

Every ticker also has a few sporadic ``"None"`` values in non-core fields (:data:`SPORADIC_NONE_FIELDS`), and
the fields in :data:`ALWAYS_NONE_FIELDS` are ``"None"`` everywhere (as they are for most real companies).
About half the tickers pay quarterly dividends (DIVIDENDS, ``dividendPayout``, TIME_SERIES_DAILY_ADJUSTED's
dividend amounts and adjusted closes agree). Statements cover 2005 to the latest quarter reported by ``end``
(a quarter exists once its ``reportedDate`` is on or before ``end``). Trading days are weekdays minus US
federal holidays (pandas ``USFederalHolidayCalendar``) from ``start`` to ``end``.

``n_tickers`` > 10 appends ordinary tickers with invented four-letter symbols (for QQQ-size and IWB-size
benchmark universes); ``n_tickers`` < 10 keeps the first ones and always :data:`ERROR_TICKER`.
``IBM`` (:data:`DEMO_SYMBOL`) is answered as an extra ordinary ticker outside the universe, so the sample
server's ``demo`` key can answer the documentation's examples. ETF_PROFILE for ``QQQ``, ``IWB`` and ``SPY``
answers the same holdings list: the universe plus a cash row (symbol ``"n/a"``).

Generation is lazy: a ticker is modelled on first request and its payloads are cached (bounded LRU) per
(function, symbol, options) as the JSON bytes the server sends; :meth:`response` returns a fresh dict.
"""

from __future__ import annotations

import json
import math
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar
from pandas.tseries.offsets import CustomBusinessDay

from resources.alpha_vantage_fields import BALANCE_SHEET_FIELDS, CASH_FLOW_FIELDS, INCOME_STATEMENT_FIELDS
from resources.sample_sources.alpha_vantage_bodies import INVALID_API_CALL, UNKNOWN_SYMBOL

SAMPLE_START = date(2004, 1, 2)
SAMPLE_END = date(2026, 11, 20)
"""Last trading day in the default sample."""
FIRST_FISCAL_QUARTER = date(2005, 3, 31)

ORDINARY_TICKER = "AXQT"
SPLIT_TICKER = "BZLK"
SPLIT_DATE = date(2020, 8, 31)
SPLIT_FACTOR = 4
WEEKEND_REPORT_TICKER = "CRWQ"
WEEKEND_REPORT_QUARTER = date(2018, 3, 31)
PRE_MARKET_TICKER = "DVNX"
MISSING_QUARTER_TICKER = "EQZT"
MISSING_QUARTER = date(2015, 6, 30)
NONE_VALUES_TICKER = "FJRX"
NONE_VALUES_FIELD = "depreciation"
OUTLIER_TICKER = "GHXV"
OUTLIER_QUARTER = date(2012, 9, 30)
OUTLIER_FIELD = "totalRevenue"
OUTLIER_FACTOR = 10
POST_MARKET_TICKER = "HWMZ"
SHARE_CLASS_TICKER = "KILO-B"
ERROR_TICKER = "ZZDL"
DEMO_SYMBOL = "IBM"
ETF_SYMBOLS = ("QQQ", "IWB", "SPY")

DEFAULT_TICKERS = (
    ORDINARY_TICKER,
    SPLIT_TICKER,
    WEEKEND_REPORT_TICKER,
    PRE_MARKET_TICKER,
    MISSING_QUARTER_TICKER,
    NONE_VALUES_TICKER,
    OUTLIER_TICKER,
    POST_MARKET_TICKER,
    SHARE_CLASS_TICKER,
    ERROR_TICKER,
)

STATEMENT_FIELDS = {
    "INCOME_STATEMENT": INCOME_STATEMENT_FIELDS,
    "BALANCE_SHEET": BALANCE_SHEET_FIELDS,
    "CASH_FLOW": CASH_FLOW_FIELDS,
}
ALWAYS_NONE_FIELDS = frozenset(
    {
        "investmentIncomeNet",
        "paymentsForOperatingActivities",
        "proceedsFromOperatingActivities",
        "paymentsForRepurchaseOfPreferredStock",
        "dividendPayoutPreferredStock",
        "proceedsFromIssuanceOfPreferredStock",
        "proceedsFromSaleOfTreasuryStock",
        "changeInExchangeRate",
    }
)
SPORADIC_NONE_FIELDS = (
    "researchAndDevelopment",
    "otherNonOperatingIncome",
    "inventory",
    "deferredRevenue",
    "capitalLeaseObligations",
    "changeInInventory",
    "proceedsFromIssuanceOfCommonStock",
)
"""Each ticker has three quarterly reports with one of these set to ``"None"``."""

FLOW_STATEMENTS = ("INCOME_STATEMENT", "CASH_FLOW")
TICKER_FUNCTIONS = frozenset(
    {
        "INCOME_STATEMENT",
        "BALANCE_SHEET",
        "CASH_FLOW",
        "EARNINGS",
        "TIME_SERIES_DAILY",
        "TIME_SERIES_DAILY_ADJUSTED",
        "TIME_SERIES_INTRADAY",
        "SPLITS",
        "DIVIDENDS",
        "OVERVIEW",
    }
)
INTRADAY_INTERVALS = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}
INTRADAY_DAYS = 5
"""Trading days TIME_SERIES_INTRADAY answers without ``month`` (``compact`` keeps the last 100 bars of them);
with ``month=YYYY-MM`` it answers that month's trading days, like the real API's history by month."""
COMPACT_ROWS = 100
_SECTORS = (
    "TECHNOLOGY",
    "HEALTHCARE",
    "INDUSTRIALS",
    "CONSUMER CYCLICAL",
    "FINANCIAL SERVICES",
    "ENERGY",
    "COMMUNICATION SERVICES",
    "CONSUMER DEFENSIVE",
)
_CACHE_SIZE = 256


@lru_cache(maxsize=8)
def trading_days(start: date, end: date) -> tuple[date, ...]:
    """Weekdays minus US federal holidays, ``start`` to ``end`` inclusive."""
    index = pd.date_range(start, end, freq=CustomBusinessDay(calendar=USFederalHolidayCalendar()))
    return tuple(ts.date() for ts in index)


def _quarter_ends(first: date, last: date) -> list[date]:
    out = []
    year, month = first.year, first.month
    while True:
        q_end = _month_end(year, month)
        if q_end > last:
            return out
        out.append(q_end)
        month += 3
        if month > 12:
            month -= 12
            year += 1


def _is_month(value: str) -> bool:
    """``YYYY-MM``, as Alpha Vantage's intraday ``month`` parameter takes it."""
    return re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value) is not None


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _ints(values: np.ndarray) -> list[str]:
    return [str(v) for v in np.rint(values).astype(np.int64).tolist()]


def _price(value: float) -> str:
    return f"{value:.4f}"


def _jitter(rng: np.random.Generator, n: int, level: float, sd: float = 0.04) -> np.ndarray:
    """``level`` times independent log-normal noise per quarter (``sd`` in log terms)."""
    return level * np.exp(rng.normal(0.0, sd, n))


@dataclass(frozen=True)
class _Ticker:
    """Everything generated for one symbol; payloads are formatted from it."""

    symbol: str
    quarters: list[date]
    reported: list[date]
    report_time: list[str]
    income: dict[str, np.ndarray]
    balance: dict[str, np.ndarray]
    cash_flow: dict[str, np.ndarray]
    none_cells: frozenset[tuple[str, int]]
    eps: list[float]
    estimated_eps: list[float]
    split_mult_q: np.ndarray  # per quarter: as-reported shares = adjusted shares / mult
    days: tuple[date, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    dividends: list[tuple[date, date, date, date, float]]  # ex, declaration, record, payment, amount
    sector: str
    name: str
    pays_dividends: bool


@dataclass(frozen=True)
class _RevenueTrend:
    """A ticker's quarterly revenue path: the statements scale with it and the price level follows it."""

    first: float  # the level the walk starts from
    growth: float  # drift of log revenue per quarter
    t: np.ndarray  # quarter number 0, 1, ... (float)
    log_revenue: np.ndarray
    revenue: np.ndarray


@dataclass(frozen=True)
class _OperatingLines:
    """The income statement from revenue down to operating income."""

    cost: np.ndarray
    gross: np.ndarray
    rd: np.ndarray
    sga: np.ndarray
    da: np.ndarray
    opex: np.ndarray
    op_income: np.ndarray


@dataclass(frozen=True)
class _BelowOperatingLines:
    """The income statement from operating income down to net income."""

    interest_income: np.ndarray
    interest_expense: np.ndarray
    other_nonop: np.ndarray
    pretax: np.ndarray
    tax: np.ndarray
    net_income: np.ndarray
    ebit: np.ndarray


@dataclass(frozen=True)
class _Shares:
    """Shares outstanding per quarter, on the post-split basis (prices use it) and as reported."""

    first_price: float  # the price level daily closes start from (post-split basis)
    adjusted: np.ndarray
    split_mult: np.ndarray  # as reported = adjusted / split_mult
    reported: np.ndarray


@dataclass(frozen=True)
class _Payout:
    """Quarterly dividends; ``per_share_adjusted`` is None for a ticker that pays none."""

    pays: bool
    per_share_adjusted: np.ndarray | None  # post-split basis
    paid: np.ndarray  # total paid per quarter (zeros when it pays none)


class _LRU:
    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: object, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()  # outside the lock: deterministic, so a duplicate computation is harmless
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return value


class SampleAlphaVantageData:
    """A synthetic universe answering Alpha Vantage requests. See the module docstring for the special cases."""

    def __init__(
        self, n_tickers: int = 10, *, seed: int = 7, start: date = SAMPLE_START, end: date = SAMPLE_END
    ) -> None:
        if n_tickers < 1:
            raise ValueError("n_tickers must be at least 1")
        if end <= start:
            raise ValueError("end must be after start")
        self.seed = seed
        self.start = start
        self.end = end
        self.tickers: list[str] = self._universe(n_tickers)
        self._known = frozenset(self.tickers) | {DEMO_SYMBOL}
        self._models = _LRU(_CACHE_SIZE)
        self._payloads = _LRU(_CACHE_SIZE)

    # ----------------------------------------------------------------------------------------- public API

    def etf_symbols(self) -> list[str]:
        """ETF symbols answered by ETF_PROFILE (all with the same holdings list)."""
        return list(ETF_SYMBOLS)

    def trading_days(self) -> tuple[date, ...]:
        return trading_days(self.start, self.end)

    def response(self, function: str, params: dict[str, str]) -> dict[str, Any]:
        """The body Alpha Vantage would answer (good data or the right error body), as a fresh dict."""
        return json.loads(self.response_bytes(function, params))

    def response_bytes(self, function: str, params: dict[str, str]) -> bytes:
        """:meth:`response` serialised as the server sends it; cached per (function, symbol, options)."""
        function = function.upper()
        symbol = params.get("symbol", "")
        options = (params.get("outputsize", "compact"), params.get("interval", ""), params.get("month", ""))
        key = (function, symbol, options)
        return self._payloads.get_or_make(key, lambda: json.dumps(self._build(function, symbol, params)).encode())

    # ----------------------------------------------------------------------------------------- dispatch

    def _build(self, function: str, symbol: str, params: dict[str, str]) -> dict[str, Any]:
        if function == "ETF_PROFILE":
            if symbol not in ETF_SYMBOLS:
                return INVALID_API_CALL(function)
            return self._etf_profile(symbol)
        if function not in TICKER_FUNCTIONS:
            return INVALID_API_CALL(function)
        if symbol not in self._known or symbol == ERROR_TICKER:
            return dict(UNKNOWN_SYMBOL) if function == "OVERVIEW" else INVALID_API_CALL(function)
        ticker = self._ticker(symbol)
        if function in STATEMENT_FIELDS:
            return self._statement(ticker, function)
        if function == "EARNINGS":
            return self._earnings(ticker)
        if function in ("TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED"):
            outputsize = params.get("outputsize", "compact")
            if outputsize not in ("compact", "full"):
                return INVALID_API_CALL(function)
            return self._daily(ticker, adjusted=function.endswith("ADJUSTED"), full=outputsize == "full")
        if function == "TIME_SERIES_INTRADAY":
            interval = params.get("interval", "")
            if interval not in INTRADAY_INTERVALS:
                return INVALID_API_CALL(function)
            month = params.get("month")
            if month is not None and not _is_month(month):
                return INVALID_API_CALL(function)
            return self._intraday(ticker, interval, full=params.get("outputsize", "compact") == "full", month=month)
        if function == "SPLITS":
            data = []
            if symbol == SPLIT_TICKER and self.start <= SPLIT_DATE <= self.end:
                data.append({"effective_date": SPLIT_DATE.isoformat(), "split_factor": f"{SPLIT_FACTOR:.4f}"})
            return {"symbol": symbol, "data": data}
        if function == "DIVIDENDS":
            return self._dividends(ticker)
        return self._overview(ticker)

    # ----------------------------------------------------------------------------------------- universe

    def _universe(self, n_tickers: int) -> list[str]:
        if n_tickers < len(DEFAULT_TICKERS):
            return [*DEFAULT_TICKERS[: n_tickers - 1], ERROR_TICKER]
        tickers = list(DEFAULT_TICKERS)
        taken = set(tickers) | set(ETF_SYMBOLS) | {DEMO_SYMBOL}
        rng = np.random.default_rng((self.seed, 0x5EED))
        letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        while len(tickers) < n_tickers:
            # Invented symbols: a leading Q, X or Z keeps them away from most real listings.
            symbol = str(rng.choice(["Q", "X", "Z"])) + "".join(rng.choice(letters, size=3).tolist())
            if symbol not in taken:
                taken.add(symbol)
                tickers.append(symbol)
        return tickers

    def _rng(self, symbol: str, *stream: int) -> np.random.Generator:
        return np.random.default_rng((self.seed, zlib.crc32(symbol.encode()), *stream))

    def _ticker(self, symbol: str) -> _Ticker:
        return self._models.get_or_make(symbol, lambda: self._make_ticker(symbol))

    # ----------------------------------------------------------------------------------------- the model

    def _make_ticker(self, symbol: str) -> _Ticker:
        # The builders draw from the ticker's stream 1 (prices from stream 2) in exactly this order:
        # calling them in another order, or moving a draw from one to another, changes the whole sample.
        rng = self._rng(symbol, 1)
        quarters, reported, report_time = self._reports(symbol, rng)
        trend = self._revenue_trend(rng, len(quarters))
        operating = self._operating_lines(rng, trend.revenue)
        balance = self._balance_sheet_lines(rng, trend.revenue)
        below = self._below_operating_lines(rng, trend.revenue, operating, balance)
        shares = self._shares(rng, symbol, quarters, trend)
        payout = self._payout(rng, trend, shares)
        cash_flow = self._cash_flow(rng, trend.revenue, operating, below, balance, payout)
        income = self._income_statement(rng, symbol, trend.revenue, operating, below)
        none_cells = self._none_cells(rng, len(quarters))
        eps, estimated = self._earnings_per_share(rng, below.net_income, shares.reported)
        days, opens, highs, lows, closes, volumes, dividends = self._prices(
            symbol,
            quarters,
            reported,
            trend.log_revenue,
            shares.first_price,
            shares.adjusted,
            payout.per_share_adjusted,
        )
        sector, name = self._profile(rng, symbol)
        return _Ticker(
            symbol=symbol,
            quarters=quarters,
            reported=reported,
            report_time=report_time,
            income=income,
            balance=self._rounded_balance_sheet(balance, shares.reported),
            cash_flow=cash_flow,
            none_cells=none_cells,
            eps=eps.tolist(),
            estimated_eps=estimated.tolist(),
            split_mult_q=shares.split_mult,
            days=days,
            open=opens,
            high=highs,
            low=lows,
            close=closes,
            volume=volumes,
            dividends=dividends,
            sector=sector,
            name=name,
            pays_dividends=payout.pays,
        )

    def _reports(self, symbol: str, rng: np.random.Generator) -> tuple[list[date], list[date], list[str]]:
        """Quarter ends, their EARNINGS reportedDate and reportTime: every quarter reported by ``end``."""
        candidates = _quarter_ends(FIRST_FISCAL_QUARTER, self.end)
        pre_share = 1.0 if symbol == PRE_MARKET_TICKER else 0.0 if symbol == POST_MARKET_TICKER else 0.12
        lags = rng.integers(20, 46, size=len(candidates))
        pre = rng.random(len(candidates)) < pre_share
        quarters, reported, report_time = [], [], []
        for i, q_end in enumerate(candidates):
            day = q_end + timedelta(days=int(lags[i]))
            if symbol == WEEKEND_REPORT_TICKER and q_end == WEEKEND_REPORT_QUARTER:
                day = q_end + timedelta(days=20)
                while day.weekday() != 5:
                    day += timedelta(days=1)
            else:
                day = _next_weekday(day)
            if day > self.end:
                break
            quarters.append(q_end)
            reported.append(day)
            report_time.append("pre-market" if pre[i] else "post-market")
        return quarters, reported, report_time

    @staticmethod
    def _revenue_trend(rng: np.random.Generator, n: int) -> _RevenueTrend:
        t = np.arange(n, dtype=float)
        revenue0 = math.exp(rng.uniform(math.log(3e8), math.log(6e9)))
        growth = rng.uniform(0.004, 0.02)
        walk = np.cumsum(rng.normal(0.0, 0.02, n))
        season = rng.uniform(0.0, 0.05) * np.sin(2 * np.pi * t / 4 + rng.uniform(0, 2 * np.pi))
        log_rev = math.log(revenue0) + growth * t + walk + season + rng.normal(0.0, 0.012, n)
        return _RevenueTrend(first=revenue0, growth=growth, t=t, log_revenue=log_rev, revenue=np.exp(log_rev))

    @staticmethod
    def _operating_lines(rng: np.random.Generator, revenue: np.ndarray) -> _OperatingLines:
        n = len(revenue)
        gross_margin = rng.uniform(0.35, 0.7)
        op_margin = rng.uniform(0.08, 0.3)
        rd_share = rng.uniform(0.0, 0.6)
        cost = revenue * (1 - _jitter(rng, n, gross_margin, 0.03))
        gross = revenue - cost
        rd = revenue * _jitter(rng, n, (gross_margin - op_margin) * rd_share)
        sga = revenue * _jitter(rng, n, (gross_margin - op_margin) * (1 - rd_share))
        da = revenue * _jitter(rng, n, rng.uniform(0.02, 0.06), 0.03)
        opex = rd + sga
        return _OperatingLines(cost=cost, gross=gross, rd=rd, sga=sga, da=da, opex=opex, op_income=gross - opex)

    @staticmethod
    def _balance_sheet_lines(rng: np.random.Generator, revenue: np.ndarray) -> dict[str, np.ndarray]:
        """BALANCE_SHEET fields but the share count, unrounded (interest and cash flow derive from these)."""
        n = len(revenue)
        assets = revenue * 4 * _jitter(rng, n, rng.uniform(0.9, 1.8), 0.03)
        equity = assets * np.clip(_jitter(rng, n, rng.uniform(0.35, 0.6), 0.03), 0.1, 0.9)
        liabilities = assets - equity
        cur_assets = assets * _jitter(rng, n, rng.uniform(0.3, 0.5), 0.03)
        cash = cur_assets * _jitter(rng, n, 0.3)
        st_inv = cur_assets * _jitter(rng, n, 0.15)
        receivables = cur_assets * _jitter(rng, n, 0.22)
        inventory = cur_assets * _jitter(rng, n, 0.13)
        other_cur_assets = cur_assets - cash - st_inv - receivables - inventory
        noncur_assets = assets - cur_assets
        ppe = noncur_assets * _jitter(rng, n, 0.42)
        goodwill = noncur_assets * _jitter(rng, n, 0.18)
        intang_ex = noncur_assets * _jitter(rng, n, 0.08)
        lt_inv = noncur_assets * _jitter(rng, n, 0.1)
        other_noncur_assets = noncur_assets - ppe - goodwill - intang_ex - lt_inv
        cur_liab = liabilities * _jitter(rng, n, rng.uniform(0.3, 0.5), 0.03)
        payable = cur_liab * _jitter(rng, n, 0.35)
        deferred = cur_liab * _jitter(rng, n, 0.14)
        st_debt = cur_liab * _jitter(rng, n, 0.1)
        cur_lt_debt = st_debt * 0.6
        other_cur_liab = cur_liab - payable - deferred - st_debt
        noncur_liab = liabilities - cur_liab
        lt_debt_nc = noncur_liab * _jitter(rng, n, 0.5)
        leases = noncur_liab * _jitter(rng, n, 0.05)
        other_noncur_liab = noncur_liab - lt_debt_nc - leases
        common_stock = equity * _jitter(rng, n, 0.3)
        treasury = equity * _jitter(rng, n, 0.08)
        retained = equity - common_stock + treasury
        return {
            "totalAssets": assets,
            "totalCurrentAssets": cur_assets,
            "cashAndCashEquivalentsAtCarryingValue": cash,
            "cashAndShortTermInvestments": cash + st_inv,
            "inventory": inventory,
            "currentNetReceivables": receivables,
            "totalNonCurrentAssets": noncur_assets,
            "propertyPlantEquipment": ppe,
            "accumulatedDepreciationAmortizationPPE": ppe * 0.6,
            "intangibleAssets": goodwill + intang_ex,
            "intangibleAssetsExcludingGoodwill": intang_ex,
            "goodwill": goodwill,
            "investments": lt_inv + st_inv,
            "longTermInvestments": lt_inv,
            "shortTermInvestments": st_inv,
            "otherCurrentAssets": other_cur_assets,
            "otherNonCurrentAssets": other_noncur_assets,
            "totalLiabilities": liabilities,
            "totalCurrentLiabilities": cur_liab,
            "currentAccountsPayable": payable,
            "deferredRevenue": deferred,
            "currentDebt": st_debt,
            "shortTermDebt": st_debt,
            "totalNonCurrentLiabilities": noncur_liab,
            "capitalLeaseObligations": leases,
            "longTermDebt": lt_debt_nc + cur_lt_debt,
            "currentLongTermDebt": cur_lt_debt,
            "longTermDebtNoncurrent": lt_debt_nc,
            "shortLongTermDebtTotal": st_debt + lt_debt_nc,
            "otherCurrentLiabilities": other_cur_liab,
            "otherNonCurrentLiabilities": other_noncur_liab,
            "totalShareholderEquity": equity,
            "treasuryStock": treasury,
            "retainedEarnings": retained,
            "commonStock": common_stock,
        }

    @staticmethod
    def _below_operating_lines(
        rng: np.random.Generator, revenue: np.ndarray, operating: _OperatingLines, balance: dict[str, np.ndarray]
    ) -> _BelowOperatingLines:
        """Interest (on the balance sheet's cash and debt), other income and tax, down to net income."""
        n = len(revenue)
        interest_income = balance["cashAndCashEquivalentsAtCarryingValue"] * _jitter(rng, n, 0.02 / 4, 0.1)
        debt = balance["shortTermDebt"] + balance["longTermDebtNoncurrent"]
        interest_expense = debt * _jitter(rng, n, rng.uniform(0.03, 0.06) / 4, 0.05)
        other_nonop = revenue * rng.normal(0.0, 0.004, n)
        pretax = operating.op_income + interest_income - interest_expense + other_nonop
        tax = np.maximum(pretax * _jitter(rng, n, rng.uniform(0.15, 0.25), 0.05), 0.0)
        return _BelowOperatingLines(
            interest_income=interest_income,
            interest_expense=interest_expense,
            other_nonop=other_nonop,
            pretax=pretax,
            tax=tax,
            net_income=pretax - tax,
            ebit=pretax + interest_expense,
        )

    @staticmethod
    def _shares(rng: np.random.Generator, symbol: str, quarters: list[date], trend: _RevenueTrend) -> _Shares:
        """Adjusted (post-split basis) shares drift slowly; as reported before the split = adjusted / 4."""
        n = len(quarters)
        adj_price0 = rng.uniform(15.0, 120.0)
        market_cap0 = trend.revenue[0] * 4 * rng.uniform(1.5, 6.0) if n else trend.first * 12
        shares_adj = market_cap0 / adj_price0 * np.exp(np.cumsum(rng.normal(-0.002, 0.004, n)))
        split_mult_q = np.ones(n)
        if symbol == SPLIT_TICKER:
            split_mult_q = np.array([SPLIT_FACTOR if q < SPLIT_DATE else 1.0 for q in quarters])
        return _Shares(
            first_price=adj_price0,
            adjusted=shares_adj,
            split_mult=split_mult_q,
            reported=np.rint(shares_adj / split_mult_q),
        )

    @staticmethod
    def _payout(rng: np.random.Generator, trend: _RevenueTrend, shares: _Shares) -> _Payout:
        """Dividends (adjusted per-share basis, paid by about half the tickers)."""
        pays_dividends = bool(rng.random() < 0.5)
        dps_adj = (
            shares.first_price * rng.uniform(0.003, 0.008) * np.exp(trend.growth * 0.6 * trend.t)
            if pays_dividends
            else None
        )
        dps = np.round(dps_adj * shares.split_mult, 2) if dps_adj is not None else np.zeros(len(trend.t))
        return _Payout(pays=pays_dividends, per_share_adjusted=dps_adj, paid=dps * shares.reported)

    @staticmethod
    def _cash_flow(
        rng: np.random.Generator,
        revenue: np.ndarray,
        operating: _OperatingLines,
        below: _BelowOperatingLines,
        balance: dict[str, np.ndarray],
        payout: _Payout,
    ) -> dict[str, np.ndarray]:
        """CASH_FLOW fields: operating cash from net income and working capital, investing, financing."""
        n = len(revenue)
        da, net_income = operating.da, below.net_income
        receivables, inventory = balance["currentNetReceivables"], balance["inventory"]
        op_liab = balance["currentAccountsPayable"] + balance["deferredRevenue"]
        lt_debt_nc, st_debt = balance["longTermDebtNoncurrent"], balance["shortTermDebt"]
        lt_inv = balance["longTermInvestments"]
        capex = revenue * _jitter(rng, n, rng.uniform(0.03, 0.09), 0.15)
        d_receivables = np.diff(receivables, prepend=receivables[:1])
        d_inventory = np.diff(inventory, prepend=inventory[:1])
        d_op_liab = np.diff(op_liab, prepend=op_liab[:1])
        op_cash = net_income + da - d_receivables - d_inventory + d_op_liab + revenue * rng.normal(0, 0.01, n)
        buyback = revenue * np.abs(rng.normal(0.02, 0.015, n))
        issuance = revenue * np.abs(rng.normal(0.002, 0.002, n))
        debt_issue = np.maximum(np.diff(lt_debt_nc, prepend=lt_debt_nc[:1]), 0.0)
        d_st_debt = np.diff(st_debt, prepend=st_debt[:1])
        cf_invest = -capex - np.diff(lt_inv, prepend=lt_inv[:1]) + revenue * rng.normal(0, 0.005, n)
        cf_finance = debt_issue + d_st_debt + issuance - buyback - payout.paid
        nan = np.full(n, np.nan)
        return {
            "operatingCashflow": op_cash,
            "paymentsForOperatingActivities": nan,
            "proceedsFromOperatingActivities": nan,
            "changeInOperatingLiabilities": d_op_liab,
            "changeInOperatingAssets": d_receivables + d_inventory,
            "depreciationDepletionAndAmortization": da,
            "capitalExpenditures": capex,
            "changeInReceivables": -d_receivables,
            "changeInInventory": -d_inventory,
            "profitLoss": net_income,
            "cashflowFromInvestment": cf_invest,
            "cashflowFromFinancing": cf_finance,
            "proceedsFromRepaymentsOfShortTermDebt": d_st_debt,
            "paymentsForRepurchaseOfCommonStock": buyback,
            "paymentsForRepurchaseOfEquity": buyback,
            "paymentsForRepurchaseOfPreferredStock": nan,
            "dividendPayout": payout.paid if payout.pays else nan,
            "dividendPayoutCommonStock": payout.paid if payout.pays else nan,
            "dividendPayoutPreferredStock": nan,
            "proceedsFromIssuanceOfCommonStock": issuance,
            "proceedsFromIssuanceOfLongTermDebtAndCapitalSecuritiesNet": debt_issue,
            "proceedsFromIssuanceOfPreferredStock": nan,
            "proceedsFromRepurchaseOfEquity": -buyback,
            "proceedsFromSaleOfTreasuryStock": nan,
            "changeInCashAndCashEquivalents": op_cash + cf_invest + cf_finance,
            "changeInExchangeRate": nan,
            "netIncome": net_income,
        }

    @staticmethod
    def _income_statement(
        rng: np.random.Generator,
        symbol: str,
        revenue: np.ndarray,
        operating: _OperatingLines,
        below: _BelowOperatingLines,
    ) -> dict[str, np.ndarray]:
        """INCOME_STATEMENT fields (its one draw, other comprehensive income, comes after the cash flow's)."""
        n = len(revenue)
        nan = np.full(n, np.nan)
        op, net_income = operating, below.net_income
        return {
            "grossProfit": op.gross,
            "totalRevenue": revenue,
            "costOfRevenue": op.cost,
            "costofGoodsAndServicesSold": op.cost,
            "operatingIncome": op.op_income,
            "sellingGeneralAndAdministrative": op.sga,
            "researchAndDevelopment": op.rd,
            "operatingExpenses": op.opex,
            "investmentIncomeNet": nan,
            "netInterestIncome": below.interest_income - below.interest_expense,
            "interestIncome": below.interest_income,
            "interestExpense": below.interest_expense,
            "nonInterestIncome": revenue + below.interest_income,
            "otherNonOperatingIncome": below.other_nonop,
            "depreciation": nan if symbol == NONE_VALUES_TICKER else op.da * 0.8,
            "depreciationAndAmortization": op.da,
            "incomeBeforeTax": below.pretax,
            "incomeTaxExpense": below.tax,
            "interestAndDebtExpense": below.interest_expense,
            "netIncomeFromContinuingOperations": net_income,
            "comprehensiveIncomeNetOfTax": net_income + revenue * rng.normal(0, 0.003, n),
            "ebit": below.ebit,
            "ebitda": below.ebit + op.da,
            "netIncome": net_income,
        }

    @staticmethod
    def _rounded_balance_sheet(lines: dict[str, np.ndarray], shares: np.ndarray) -> dict[str, np.ndarray]:
        """The BALANCE_SHEET as reported: the share count added, every line an integer."""
        balance = {**lines, "commonStockSharesOutstanding": shares}
        # Integer-round the parts and derive the totals from the rounded parts so the identities hold exactly.
        for key, value in balance.items():
            balance[key] = np.rint(value)
        balance["totalLiabilities"] = balance["totalAssets"] - balance["totalShareholderEquity"]
        return balance

    @staticmethod
    def _none_cells(rng: np.random.Generator, n: int) -> frozenset[tuple[str, int]]:
        """(field, quarter) cells of :data:`SPORADIC_NONE_FIELDS` that the statements send as ``"None"``."""
        none_cells: set[tuple[str, int]] = set()
        if n >= 8:
            for field in rng.choice(SPORADIC_NONE_FIELDS, size=3, replace=False).tolist():
                none_cells.add((field, int(rng.integers(0, n))))
        return frozenset(none_cells)

    @staticmethod
    def _earnings_per_share(
        rng: np.random.Generator, net_income: np.ndarray, shares: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """EARNINGS' reported and estimated EPS (the estimate misses by a few percent)."""
        eps = np.round(net_income / np.maximum(shares, 1.0), 2)
        surprise = np.round(np.abs(eps) * rng.normal(0.03, 0.05, len(eps)), 2)
        return eps, np.round(eps - surprise, 2)

    @staticmethod
    def _profile(rng: np.random.Generator, symbol: str) -> tuple[str, str]:
        """OVERVIEW's sector and company name."""
        sector = _SECTORS[int(rng.integers(0, len(_SECTORS)))]
        base = symbol.split("-")[0]
        name = f"{base.title()} {('Holdings', 'Industries', 'Systems', 'Group')[zlib.crc32(base.encode()) % 4]} Inc"
        if "-" in symbol:
            name += f" Class {symbol.split('-')[1]}"
        return sector, name

    def _prices(
        self,
        symbol: str,
        quarters: list[date],
        reported: list[date],
        log_rev: np.ndarray,
        adj_price0: float,
        shares_adj: np.ndarray,
        dps_adj: np.ndarray | None,
    ) -> tuple[
        tuple[date, ...],
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        list[tuple[date, date, date, date, float]],
    ]:
        rng = self._rng(symbol, 2)
        days = self.trading_days()
        m = len(days)
        ordinals = np.array([d.toordinal() for d in days], dtype=float)
        # Fundamentals-anchored level (log revenue interpolated over quarter ends) plus mean-reverting noise.
        if quarters:
            q_ord = np.array([q.toordinal() for q in quarters], dtype=float)
            level = np.interp(ordinals, q_ord, log_rev) - log_rev[0]
        else:
            level = np.zeros(m)
        sigma = rng.uniform(0.012, 0.026)
        shocks = rng.normal(0.0, sigma, m)
        noise = np.empty(m)
        x = 0.0
        for i in range(m):
            x = 0.996 * x + shocks[i]
            noise[i] = x
        close_adj = adj_price0 * np.exp(level + noise)
        open_adj = np.concatenate(([close_adj[0]], close_adj[:-1])) * np.exp(rng.normal(0.0, 0.3 * sigma, m))
        top = np.maximum(open_adj, close_adj) * np.exp(np.abs(rng.normal(0.0, 0.5 * sigma, m)))
        bottom = np.minimum(open_adj, close_adj) * np.exp(-np.abs(rng.normal(0.0, 0.5 * sigma, m)))
        mult = np.ones(m)
        if symbol == SPLIT_TICKER:
            mult = np.where(np.array([d < SPLIT_DATE for d in days]), float(SPLIT_FACTOR), 1.0)
        opens = np.round(open_adj * mult, 2)
        closes = np.round(close_adj * mult, 2)
        highs = np.maximum(np.round(top * mult, 2), np.maximum(opens, closes))
        lows = np.minimum(np.round(bottom * mult, 2), np.minimum(opens, closes))
        turnover = rng.uniform(0.004, 0.012)
        shares_daily = (
            np.interp(ordinals, np.array([q.toordinal() for q in quarters], dtype=float), shares_adj)
            if quarters
            else np.full(m, shares_adj[0] if len(shares_adj) else 1e8)
        )
        volumes = np.rint(shares_daily * turnover * np.exp(rng.normal(0.0, 0.35, m)) / mult)

        dividends: list[tuple[date, date, date, date, float]] = []
        if dps_adj is not None and m:
            day_index = {d: i for i, d in enumerate(days)}
            for i, declared in enumerate(reported):
                ex = _next_weekday(declared + timedelta(days=14))
                while ex not in day_index and ex <= days[-1]:
                    ex += timedelta(days=1)
                if ex > days[-1] or ex < days[0]:
                    continue
                amount = round(float(dps_adj[i] * mult[day_index[ex]]), 2)
                record = _next_weekday(ex + timedelta(days=1))
                dividends.append((ex, declared, record, _next_weekday(ex + timedelta(days=21)), amount))
        return days, opens, highs, lows, closes, volumes, dividends

    # ----------------------------------------------------------------------------------------- payloads

    def _statement(self, ticker: _Ticker, function: str) -> dict[str, Any]:
        fields = STATEMENT_FIELDS[function]
        values = {"INCOME_STATEMENT": ticker.income, "BALANCE_SHEET": ticker.balance, "CASH_FLOW": ticker.cash_flow}[
            function
        ]
        n = len(ticker.quarters)
        columns = {f: self._column(values[f], f) for f in fields}
        if ticker.symbol == OUTLIER_TICKER and function == "INCOME_STATEMENT" and OUTLIER_QUARTER in ticker.quarters:
            i = ticker.quarters.index(OUTLIER_QUARTER)
            columns[OUTLIER_FIELD][i] = str(round(float(values[OUTLIER_FIELD][i]) * OUTLIER_FACTOR))
        for field, i in ticker.none_cells:
            if field in columns:
                columns[field][i] = "None"
        quarterly = []
        for i in reversed(range(n)):
            skip = ticker.symbol == MISSING_QUARTER_TICKER and function == "BALANCE_SHEET"
            if skip and ticker.quarters[i] == MISSING_QUARTER:
                continue
            row = {"fiscalDateEnding": ticker.quarters[i].isoformat(), "reportedCurrency": "USD"}
            row.update({f: columns[f][i] for f in fields})
            quarterly.append(row)
        annual = []
        for year_end, idx in reversed(self._fiscal_years(ticker)):
            row = {"fiscalDateEnding": year_end.isoformat(), "reportedCurrency": "USD"}
            for f in fields:
                column = values[f]
                if np.isnan(column[idx]).any():
                    row[f] = "None"
                elif function == "BALANCE_SHEET":
                    row[f] = str(round(float(column[idx[-1]])))
                else:
                    row[f] = str(round(float(column[idx].sum())))
            annual.append(row)
        return {"symbol": ticker.symbol, "annualReports": annual, "quarterlyReports": quarterly}

    @staticmethod
    def _column(values: np.ndarray, field: str) -> list[str]:
        if field in ALWAYS_NONE_FIELDS or np.isnan(values).all():
            return ["None"] * len(values)
        out = _ints(np.nan_to_num(values))
        for i in np.flatnonzero(np.isnan(values)).tolist():
            out[i] = "None"
        return out

    @staticmethod
    def _fiscal_years(ticker: _Ticker) -> list[tuple[date, list[int]]]:
        years: dict[int, list[int]] = {}
        for i, q in enumerate(ticker.quarters):
            years.setdefault(q.year, []).append(i)
        return [(date(y, 12, 31), idx) for y, idx in sorted(years.items()) if len(idx) == 4]

    def _earnings(self, ticker: _Ticker) -> dict[str, Any]:
        quarterly = []
        for i in reversed(range(len(ticker.quarters))):
            eps, est = ticker.eps[i], ticker.estimated_eps[i]
            surprise = round(eps - est, 2)
            quarterly.append(
                {
                    "fiscalDateEnding": ticker.quarters[i].isoformat(),
                    "reportedDate": ticker.reported[i].isoformat(),
                    "reportedEPS": f"{eps:.2f}",
                    "estimatedEPS": f"{est:.2f}",
                    "surprise": f"{surprise:.2f}",
                    "surprisePercentage": f"{surprise / abs(est) * 100:.4f}" if est else "None",
                    "reportTime": ticker.report_time[i],
                }
            )
        annual = [
            {"fiscalDateEnding": year_end.isoformat(), "reportedEPS": f"{sum(ticker.eps[i] for i in idx):.2f}"}
            for year_end, idx in reversed(self._fiscal_years(ticker))
        ]
        return {"symbol": ticker.symbol, "annualEarnings": annual, "quarterlyEarnings": quarterly}

    def _daily(self, ticker: _Ticker, *, adjusted: bool, full: bool) -> dict[str, Any]:
        m = len(ticker.days)
        lo = 0 if full else max(0, m - COMPACT_ROWS)
        meta = {
            "1. Information": (
                "Daily Time Series with Splits and Dividend Events"
                if adjusted
                else "Daily Prices (open, high, low, close) and Volumes"
            ),
            "2. Symbol": ticker.symbol,
            "3. Last Refreshed": ticker.days[-1].isoformat() if m else self.end.isoformat(),
            "4. Output Size": "Full size" if full else "Compact",
            "5. Time Zone": "US/Eastern",
        }
        opens, highs = ticker.open.tolist(), ticker.high.tolist()
        lows, closes = ticker.low.tolist(), ticker.close.tolist()
        volumes = np.asarray(ticker.volume, dtype=np.int64).tolist()
        series: dict[str, dict[str, str]] = {}
        if not adjusted:
            for i in range(m - 1, lo - 1, -1):
                series[ticker.days[i].isoformat()] = {
                    "1. open": _price(opens[i]),
                    "2. high": _price(highs[i]),
                    "3. low": _price(lows[i]),
                    "4. close": _price(closes[i]),
                    "5. volume": str(volumes[i]),
                }
            return {"Meta Data": meta, "Time Series (Daily)": series}
        factor, div_amount, split_coef = self._adjustment(ticker)
        for i in range(m - 1, lo - 1, -1):
            series[ticker.days[i].isoformat()] = {
                "1. open": _price(opens[i]),
                "2. high": _price(highs[i]),
                "3. low": _price(lows[i]),
                "4. close": _price(closes[i]),
                "5. adjusted close": _price(closes[i] * factor[i]),
                "6. volume": str(volumes[i]),
                "7. dividend amount": _price(div_amount[i]),
                "8. split coefficient": f"{split_coef[i]:.1f}",
            }
        return {"Meta Data": meta, "Time Series (Daily)": series}

    @staticmethod
    def _adjustment(ticker: _Ticker) -> tuple[list[float], list[float], list[float]]:
        """CRSP-style factors: each price is multiplied by the product of later events' factors."""
        m = len(ticker.days)
        index = {d: i for i, d in enumerate(ticker.days)}
        div_amount = [0.0] * m
        split_coef = [1.0] * m
        for ex, _decl, _rec, _pay, amount in ticker.dividends:
            div_amount[index[ex]] = amount
        if ticker.symbol == SPLIT_TICKER and SPLIT_DATE in index:
            split_coef[index[SPLIT_DATE]] = float(SPLIT_FACTOR)
        closes = ticker.close.tolist()
        factor = [1.0] * m
        running = 1.0
        for i in range(m - 1, -1, -1):
            factor[i] = running
            step = 1.0 / split_coef[i]
            if div_amount[i] and i > 0:
                step *= 1.0 - div_amount[i] / closes[i - 1]
            running *= step
        return factor, div_amount, split_coef

    def _intraday(self, ticker: _Ticker, interval: str, *, full: bool, month: str | None) -> dict[str, Any]:
        minutes = INTRADAY_INTERVALS[interval]
        m = len(ticker.days)
        bars: list[tuple[str, float, float, float, float, int]] = []
        per_day = (16 * 60) // minutes  # 04:00 to 20:00, extended hours included as the API does by default
        if month is None:  # the trailing days, as the API answers without `month`
            days = list(range(max(0, m - INTRADAY_DAYS), m))
        else:  # one calendar month of history (`month=YYYY-MM`)
            days = [i for i, day in enumerate(ticker.days) if f"{day:%Y-%m}" == month]
            if not days:
                return INVALID_API_CALL("TIME_SERIES_INTRADAY")
        for i in days:
            # One stream per day: a day's bars are the same whichever request (recent or `month=`) returns them.
            rng = self._rng(ticker.symbol, 3 + minutes, ticker.days[i].toordinal())
            o, c = float(ticker.open[i]), float(ticker.close[i])
            hi, lo = float(ticker.high[i]), float(ticker.low[i])
            steps = np.cumsum(rng.normal(0.0, 1.0, per_day))
            bridge = steps - np.linspace(0, 1, per_day) * steps[-1]
            path = np.linspace(o, c, per_day) + bridge * (hi - lo) / (4 * max(np.abs(bridge).max(), 1e-9))
            path = np.clip(path, lo, hi)
            volume = rng.multinomial(int(ticker.volume[i]), np.full(per_day, 1.0 / per_day))
            start = datetime.combine(ticker.days[i], time(4, 0))
            prev = o
            for k in range(per_day):
                bar_close = round(float(path[k]), 4)
                bar_high = min(hi, max(prev, bar_close) * (1 + abs(rng.normal(0, 0.0005))))
                bar_low = max(lo, min(prev, bar_close) * (1 - abs(rng.normal(0, 0.0005))))
                stamp = (start + timedelta(minutes=minutes * k)).strftime("%Y-%m-%d %H:%M:%S")
                bars.append((stamp, prev, bar_high, bar_low, bar_close, int(volume[k])))
                prev = bar_close
        if not full:
            bars = bars[-COMPACT_ROWS:]
        series = {
            stamp: {
                "1. open": _price(o),
                "2. high": _price(h),
                "3. low": _price(lo_),
                "4. close": _price(c),
                "5. volume": str(v),
            }
            for stamp, o, h, lo_, c, v in reversed(bars)
        }
        meta = {
            "1. Information": f"Intraday ({interval}) open, high, low, close prices and volume",
            "2. Symbol": ticker.symbol,
            "3. Last Refreshed": bars[-1][0] if bars else "",
            "4. Interval": interval,
            "5. Output Size": "Full size" if full else "Compact",
            "6. Time Zone": "US/Eastern",
        }
        return {"Meta Data": meta, f"Time Series ({interval})": series}

    def _dividends(self, ticker: _Ticker) -> dict[str, Any]:
        data = [
            {
                "ex_dividend_date": ex.isoformat(),
                "declaration_date": declared.isoformat(),
                "record_date": record.isoformat(),
                "payment_date": paid.isoformat(),
                "amount": f"{amount:.2f}",
            }
            for ex, declared, record, paid, amount in reversed(ticker.dividends)
        ]
        return {"symbol": ticker.symbol, "data": data}

    def _overview(self, ticker: _Ticker) -> dict[str, Any]:
        last = len(ticker.quarters) - 1
        shares = int(ticker.balance["commonStockSharesOutstanding"][last]) if last >= 0 else 0
        close = float(ticker.close[-1]) if len(ticker.close) else 0.0
        return {
            "Symbol": ticker.symbol,
            "AssetType": "Common Stock",
            "Name": ticker.name,
            "Description": f"{ticker.name} is an invented company in the offline sample universe.",
            "Exchange": "NYSE" if zlib.crc32(ticker.symbol.encode()) % 2 else "NASDAQ",
            "Currency": "USD",
            "Country": "USA",
            "Sector": ticker.sector,
            "FiscalYearEnd": "December",
            "LatestQuarter": ticker.quarters[last].isoformat() if last >= 0 else "None",
            "MarketCapitalization": str(round(close * shares)),
            "SharesOutstanding": str(shares),
            "DividendPerShare": "None"
            if not ticker.pays_dividends
            else f"{sum(d[4] for d in ticker.dividends[-4:]):.2f}",
        }

    def _etf_profile(self, etf: str) -> dict[str, Any]:
        rng = np.random.default_rng((self.seed, zlib.crc32(b"ETF_PROFILE")))
        raw = np.sort(rng.lognormal(0.0, 1.2, len(self.tickers)))[::-1]
        cash_weight = 0.0012
        weights = np.maximum(raw / raw.sum() * (1 - cash_weight), 0.0001)
        order = rng.permutation(len(self.tickers))
        holdings = [
            {
                "symbol": self.tickers[j],
                "description": self._description(self.tickers[j]),
                "weight": f"{weights[k]:.4f}",
            }
            for k, j in enumerate(order.tolist())
        ]
        holdings.append({"symbol": "n/a", "description": "CASH & CASH EQUIVALENTS", "weight": f"{cash_weight:.4f}"})
        sector_w = rng.dirichlet(np.full(len(_SECTORS), 2.0))
        facts = {
            "QQQ": ("315000000000", "0.0020", "0.08", "0.0056", "1999-03-10"),
            "IWB": ("39000000000", "0.0015", "0.05", "0.0115", "2000-05-15"),
            "SPY": ("620000000000", "0.0009", "0.02", "0.0121", "1993-01-22"),
        }[etf]
        return {
            "net_assets": facts[0],
            "net_expense_ratio": facts[1],
            "portfolio_turnover": facts[2],
            "dividend_yield": facts[3],
            "inception_date": facts[4],
            "leveraged": "NO",
            "sectors": [
                {"sector": s, "weight": f"{w:.3f}"}
                for s, w in sorted(zip(_SECTORS, sector_w.tolist(), strict=True), key=lambda p: -p[1])
            ],
            "holdings": holdings,
        }

    @staticmethod
    def _description(symbol: str) -> str:
        base = symbol.split("-")[0]
        suffix = ("HOLDINGS", "INDUSTRIES", "SYSTEMS", "GROUP")[zlib.crc32(base.encode()) % 4]
        text = f"{base} {suffix} INC"
        if "-" in symbol:
            text += f" CLASS {symbol.split('-')[1]}"
        return text
