"""Fetching one ticker's raw Alpha Vantage payloads, refreshing only what changed.

The raw JSON is kept exactly as the API returned it, under stable keys in the object store
(``raw/alpha-vantage/<FUNCTION>/<SYMBOL>.json``), so re-running the maths never needs an API call.

Refresh rules for a weekly run (requests per ticker: 6 on a full refresh, 3 in a week without reports):

* EARNINGS, SPLITS and the recent daily prices are fetched every run.
* The three statements are fetched again only when EARNINGS lists a reported quarter newer than the newest
  stored statement quarter, when a statement is missing, or when the stored copy is older than
  ``max_statement_age``.
* Prices: the last 100 trading days (``compact``) are merged into the stored history; the full history is
  fetched when nothing is stored or when the stored history ends before the compact window starts.

A ticker is written all at once after all its fetches succeeded, so the store never holds a half-updated
ticker; a failure leaves the previous copy in place for the next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from ops_assets.fundamentals.keys import manifest_key, raw_key
from resources.alpha_vantage import AlphaVantageTickerError

STATEMENT_FUNCTIONS = ("INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW")
DAILY_SERIES_KEY = "Time Series (Daily)"
# EARNINGS uses calendar month-ends while statements may use 52/53-week period ends a few days away:
# a quarter counts as new only if it ends more than this many days after the newest stored one.
NEW_QUARTER_TOLERANCE = timedelta(days=20)


class JsonStore(Protocol):
    def get_json_or_none(self, key: str) -> Any | None: ...
    def put_json(self, key: str, value: Any) -> None: ...
    def exists(self, key: str) -> bool: ...


class AlphaVantageGetter(Protocol):
    def get(self, function: str, symbol: str | None = None, **params: str) -> dict: ...


@dataclass
class TickerFetchOutcome:
    """What happened to one ticker in one run."""

    ticker: str
    status: str  # "ok" | "failed" | "not_fetched"
    fetched: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    refresh_reason: str = ""
    error: str | None = None
    requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "status": self.status,
            "fetched": ",".join(self.fetched),
            "reused": ",".join(self.reused),
            "refresh_reason": self.refresh_reason,
            "error": self.error or "",
            "requests": self.requests,
        }


def _newest_statement_date(income_statement: Mapping[str, Any] | None) -> date | None:
    reports = (income_statement or {}).get("quarterlyReports") or []
    dates = [date.fromisoformat(r["fiscalDateEnding"]) for r in reports if r.get("fiscalDateEnding")]
    return max(dates, default=None)


def _newest_reported_quarter(earnings: Mapping[str, Any], as_of: date) -> date | None:
    newest: date | None = None
    for row in earnings.get("quarterlyEarnings") or []:
        reported, fiscal = row.get("reportedDate"), row.get("fiscalDateEnding")
        if not reported or not fiscal or reported == "None" or date.fromisoformat(reported) > as_of:
            continue
        fiscal_date = date.fromisoformat(fiscal)
        newest = fiscal_date if newest is None or fiscal_date > newest else newest
    return newest


def statements_refresh_reason(
    stored: Mapping[str, Mapping[str, Any] | None],
    earnings: Mapping[str, Any],
    statements_fetched_at: datetime | None,
    *,
    now: datetime,
    as_of: date,
    max_statement_age: timedelta,
) -> str:
    """Why the statements must be fetched again, or ``""`` when the stored copies are current."""
    missing = [function for function in STATEMENT_FUNCTIONS if not stored.get(function)]
    if missing:
        return "not stored: " + ", ".join(missing)
    if statements_fetched_at is None or now - statements_fetched_at > max_statement_age:
        return f"stored copy older than {max_statement_age.days} days"
    newest_stored = _newest_statement_date(stored["INCOME_STATEMENT"])
    newest_reported = _newest_reported_quarter(earnings, as_of)
    if newest_reported and (newest_stored is None or newest_reported > newest_stored + NEW_QUARTER_TOLERANCE):
        return f"new report: quarter ending {newest_reported} (stored up to {newest_stored})"
    return ""


def merge_daily_prices(stored: Mapping[str, Any] | None, recent: Mapping[str, Any]) -> dict[str, Any] | None:
    """Stored history plus the recent window (recent wins on overlapping days).

    Returns ``None`` when the two do not overlap, i.e. trading days in between would be missing.
    """
    if not stored:
        return None
    old = stored.get(DAILY_SERIES_KEY) or {}
    new = recent.get(DAILY_SERIES_KEY) or {}
    if old and new and max(old) < min(new):
        return None
    series = {**old, **new}
    merged = dict(recent)
    merged[DAILY_SERIES_KEY] = {day: series[day] for day in sorted(series, reverse=True)}
    return merged


def refresh_ticker(
    client: AlphaVantageGetter,
    store: JsonStore,
    ticker: str,
    *,
    now: datetime,
    as_of: date,
    max_statement_age: timedelta,
    full_price_history: bool = True,
) -> TickerFetchOutcome:
    """Fetch what is stale for ``ticker`` and store it; errors other than per-ticker ones propagate.

    Raises :class:`AlphaVantageTickerError` subclasses' siblings (run-wide and daily-quota errors) to the
    caller untouched; a per-ticker error is returned as a ``failed`` outcome and nothing is written.
    """
    outcome = TickerFetchOutcome(ticker=ticker, status="ok")
    manifest: dict[str, Any] = store.get_json_or_none(manifest_key(ticker)) or {}
    fresh: dict[str, dict[str, Any]] = {}

    def fetch(function: str, **params: str) -> dict[str, Any]:
        outcome.requests += 1
        payload = client.get(function, ticker, **params)
        outcome.fetched.append(function)
        return payload

    try:
        fresh["EARNINGS"] = fetch("EARNINGS")
        stored = {function: store.get_json_or_none(raw_key(function, ticker)) for function in STATEMENT_FUNCTIONS}
        fetched_at = manifest.get("statements_fetched_at")
        outcome.refresh_reason = statements_refresh_reason(
            stored,
            fresh["EARNINGS"],
            datetime.fromisoformat(fetched_at) if fetched_at else None,
            now=now,
            as_of=as_of,
            max_statement_age=max_statement_age,
        )
        if outcome.refresh_reason:
            for function in STATEMENT_FUNCTIONS:
                fresh[function] = fetch(function)
        else:
            outcome.reused.extend(STATEMENT_FUNCTIONS)

        stored_prices = store.get_json_or_none(raw_key("TIME_SERIES_DAILY", ticker))
        merged = None
        if stored_prices:
            merged = merge_daily_prices(stored_prices, fetch("TIME_SERIES_DAILY", outputsize="compact"))
        if merged is None:
            merged = fetch("TIME_SERIES_DAILY", outputsize="full" if full_price_history else "compact")
        fresh["TIME_SERIES_DAILY"] = merged
        fresh["SPLITS"] = fetch("SPLITS")
    except AlphaVantageTickerError as exc:
        return TickerFetchOutcome(
            ticker=ticker,
            status="failed",
            fetched=[],
            error=str(exc),
            requests=outcome.requests,
        )

    # Everything arrived: write the payloads, then the manifest that describes them.
    for function, payload in fresh.items():
        store.put_json(raw_key(function, ticker), payload)
    if outcome.refresh_reason:
        manifest["statements_fetched_at"] = now.isoformat()
    manifest["fetched_at"] = now.isoformat()
    store.put_json(manifest_key(ticker), manifest)
    return outcome


def has_cached_data(store: JsonStore, ticker: str) -> bool:
    """Whether a ticker has a complete stored copy the maths can use."""
    functions = (*STATEMENT_FUNCTIONS, "EARNINGS", "TIME_SERIES_DAILY", "SPLITS")
    return all(store.exists(raw_key(function, ticker)) for function in functions)
