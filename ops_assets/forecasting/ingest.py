"""Fetching and storing daily prices, one ticker at a time. Plain, no Dagster (the asset calls it).

One request per ticker covers the whole range a run needs: the run's sessions (one day, or a backfill's range),
``refetch_sessions`` before them (so a changed history is noticed) and any gap since the last stored session.
The answer is archived as received, merged into the stored history (:func:`~ops_assets.forecasting.prices.
merge_history`) and written back as one object; when the merge changed stored days the previous version is
kept under ``_superseded/`` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from ops_assets.forecasting import keys
from ops_assets.forecasting.prices import MergeReport, Split, bars_frame, merge_history
from ops_assets.forecasting.storage import prices_from_parquet, prices_to_parquet
from ops_assets.forecasting.trading_calendar import sessions_before
from resources.object_store import ObjectNotFoundError
from resources.price_source import PriceHistory


class BlobStore(Protocol):
    def get_bytes(self, key: str) -> bytes: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...


class DailyHistorySource(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def split_adjusted(self) -> bool: ...
    def daily_history(self, ticker: str, start: date, end: date) -> PriceHistory: ...


@dataclass
class TickerIngest:
    """What one ticker's ingest did."""

    ticker: str
    fetched_from: date
    fetched_to: date
    rows: int = 0
    last_day: date | None = None
    report: MergeReport = field(default_factory=MergeReport)

    def as_metadata(self) -> dict[str, object]:
        return {
            "fetched": f"{self.fetched_from} .. {self.fetched_to}",
            "rows": self.rows,
            "last_day": str(self.last_day),
            "changes": self.report.describe(),
        }


def read_stored(store: BlobStore, ticker: str) -> tuple[object, list[Split]]:
    try:
        data = store.get_bytes(keys.prices_key(ticker))
    except ObjectNotFoundError:
        data = None
    return prices_from_parquet(data)


def fetch_range(stored_last_day: date | None, first: date, last: date, *, refetch: int, history_start: date) -> date:
    """The first day to ask for: the whole history when nothing is stored, else ``refetch`` sessions before the
    run's first day, or earlier when sessions since the last stored one are missing."""
    if stored_last_day is None:
        return min(history_start, first)
    start = sessions_before(first, refetch + 1)[0]
    return min(start, stored_last_day)


def ingest_ticker(
    store: BlobStore,
    source: DailyHistorySource,
    ticker: str,
    first: date,
    last: date,
    *,
    refetch: int,
    history_start: date,
    now: datetime | None = None,
) -> TickerIngest:
    """Fetch ``ticker`` for the run's sessions [first, last] and merge it into the stored history.

    Provider errors propagate (the caller decides which stop the run and which only this ticker).
    """
    now = now or datetime.now(UTC)
    stored, stored_splits = read_stored(store, ticker)
    stored_last = max(stored["day"]) if len(stored) else None
    start = fetch_range(stored_last, first, last, refetch=refetch, history_start=history_start)
    history = source.daily_history(ticker, start, last)
    store.put_bytes(keys.raw_key(ticker, last, source.source, start, last), history.raw)
    answer_splits = [Split(day, ratio) for day, ratio in history.splits]
    merged, splits, report = merge_history(
        stored, stored_splits, bars_frame(history.bars), answer_splits, answer_is_adjusted=source.split_adjusted
    )
    if report.changed_history and stored_last is not None:
        store.put_bytes(keys.superseded_prices_key(ticker, now), prices_to_parquet(stored, stored_splits))
    store.put_bytes(keys.prices_key(ticker), prices_to_parquet(merged, splits))
    result = TickerIngest(ticker, start, last, rows=len(merged), report=report)
    result.last_day = max(merged["day"]) if len(merged) else None
    return result
