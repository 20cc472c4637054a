"""What the fundamentals assets tell people in the UI: where the data came from and what the artifact covers.

Plain functions (no Dagster): the assets turn their results into Markdown tables with
:func:`ops_assets.tables.markdown_table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

import pandas as pd

from ops_assets.fundamentals.daily import COMPLETENESS_COLUMNS

SAMPLE_SCHEME = "sample"
SAMPLE_SOURCE = "sample (bundled offline data)"
LIVE_SOURCE = "alpha_vantage"
LIVE_HOST = "www.alphavantage.co"
UNKNOWN_SOURCE = "not recorded (holdings written before the source was)"

KEY_TTM_COLUMNS: tuple[str, ...] = tuple(
    c.removesuffix("_per_share") for c in COMPLETENESS_COLUMNS if c.endswith("_ttm_per_share")
)
"""The TTM sums a complete artifact row needs (revenue, net income, operating cash flow, capex). Not every
TTM column: some fields are never reported by some companies, and their sums stay empty for good."""

MISSING_SHOWN = 8
"""Missing quarters listed per ticker before the list is cut short ("+N more")."""


def data_source(base_url: str) -> str:
    """Which Alpha Vantage the client talks to, in words: the bundled sample or the live service.

    Only the scheme and host are ever shown (a URL can carry a token in its query).
    """
    parts = urlsplit(base_url)
    if parts.scheme == SAMPLE_SCHEME:
        return SAMPLE_SOURCE
    host = parts.hostname or "no host"
    return LIVE_SOURCE if host == LIVE_HOST else f"{LIVE_SOURCE} at {parts.scheme}://{host}"


@dataclass(frozen=True)
class TickerCoverage:
    """One ticker of the artifact: its trading days and its fiscal quarters (calendar quarters, e.g. 2024Q3)."""

    ticker: str
    trading_days: int
    first_day: date | None
    last_day: date | None
    quarters: list[str]
    """Calendar quarters present in the quarterly table, oldest first."""
    missing_quarters: list[str]
    """Calendar quarters between the first and the last present one that have no statements."""
    quarters_with_ttm: int
    """Quarters whose :data:`KEY_TTM_COLUMNS` sums are all known (four consecutive quarters were there)."""

    @property
    def expected_quarters(self) -> int:
        return len(self.quarters) + len(self.missing_quarters)


@dataclass(frozen=True)
class Coverage:
    """What the artifact covers: per ticker, and the years the quarters fall in."""

    tickers: list[TickerCoverage] = field(default_factory=list)

    @property
    def tickers_missing_quarters(self) -> list[str]:
        return [t.ticker for t in self.tickers if t.missing_quarters]

    @property
    def missing_quarters(self) -> int:
        return sum(len(t.missing_quarters) for t in self.tickers)

    @property
    def quarter_coverage_pct(self) -> float:
        """Quarters present out of those expected between each ticker's first and last quarter (100 if none)."""
        expected = sum(t.expected_quarters for t in self.tickers)
        present = sum(len(t.quarters) for t in self.tickers)
        return round(100.0 * present / expected, 1) if expected else 100.0

    @property
    def years(self) -> list[int]:
        quarters = [q for t in self.tickers for q in (*t.quarters, *t.missing_quarters)]
        if not quarters:
            return []
        found = sorted({int(q[:4]) for q in quarters})
        return list(range(found[0], found[-1] + 1))


def _quarter_range(first: pd.Period, last: pd.Period) -> list[str]:
    return [str(p) for p in pd.period_range(first, last, freq="Q")]


def artifact_coverage(
    quarterly: pd.DataFrame, days: Mapping[str, tuple[date, date, int]], tickers: Sequence[str] | None = None
) -> Coverage:
    """Coverage of each ticker, from the quarterly table and the artifact's days per ticker.

    ``quarterly`` has ``ticker``, ``calendar_quarter`` (``2024Q3``) and the :data:`KEY_TTM_COLUMNS` (the
    quarterly table as written). ``days`` maps a ticker to ``(first day, last day, trading days)`` in the
    artifact. ``tickers``: the tickers to report (default: every ticker of either input), sorted.
    """
    names = sorted(set(tickers) if tickers is not None else {*quarterly["ticker"].astype(str), *days})
    by_ticker = {str(t): rows for t, rows in quarterly.groupby("ticker", sort=False)} if len(quarterly) else {}
    ttm = [c for c in KEY_TTM_COLUMNS if c in quarterly.columns]
    result = []
    for ticker in names:
        rows = by_ticker.get(ticker)
        present: list[str] = []
        missing: list[str] = []
        with_ttm = 0
        if rows is not None and len(rows):
            periods = sorted({pd.Period(str(q), freq="Q") for q in rows["calendar_quarter"]})
            present = [str(p) for p in periods]
            missing = sorted(set(_quarter_range(periods[0], periods[-1])) - set(present))
            with_ttm = int(rows[ttm].notna().all(axis=1).sum()) if ttm else 0
        first, last, count = days.get(ticker, (None, None, 0))
        result.append(
            TickerCoverage(
                ticker=ticker,
                trading_days=count,
                first_day=first,
                last_day=last,
                quarters=present,
                missing_quarters=missing,
                quarters_with_ttm=with_ttm,
            )
        )
    return Coverage(tickers=result)


def _shorten(items: Sequence[str], shown: int = MISSING_SHOWN) -> str:
    if not items:
        return ""
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f" (+{more} more)" if more > 0 else "")


COVERAGE_HEADERS = [
    "ticker",
    "trading days",
    "first day",
    "last day",
    "quarters",
    "with TTM",
    "first quarter",
    "last quarter",
    "missing quarters",
]


def coverage_rows(coverage: Coverage) -> list[list[object]]:
    """One row per ticker for a table with :data:`COVERAGE_HEADERS`."""
    return [
        [
            t.ticker,
            t.trading_days,
            t.first_day or "",
            t.last_day or "",
            len(t.quarters),
            t.quarters_with_ttm,
            t.quarters[0] if t.quarters else "",
            t.quarters[-1] if t.quarters else "",
            _shorten(t.missing_quarters) or "none",
        ]
        for t in coverage.tickers
    ]


def coverage_by_year(coverage: Coverage) -> tuple[list[str], list[list[object]]]:
    """Tickers x years: quarters present each year; ``3*`` when a quarter of that year is missing, blank
    outside the ticker's first..last quarter. Returns (headers, rows)."""
    years = coverage.years
    rows: list[list[object]] = []
    for t in coverage.tickers:
        present = pd.Series([int(q[:4]) for q in t.quarters], dtype="int64").value_counts()
        missing = {int(q[:4]) for q in t.missing_quarters}
        span = (int(t.quarters[0][:4]), int(t.quarters[-1][:4])) if t.quarters else None
        cells: list[object] = []
        for year in years:
            if span is None or not span[0] <= year <= span[1]:
                cells.append("")
            else:
                cells.append(f"{int(present.get(year, 0))}{'*' if year in missing else ''}")
        rows.append([t.ticker, *cells])
    return ["ticker", *[str(y) for y in years]], rows
