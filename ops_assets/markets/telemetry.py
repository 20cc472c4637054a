"""Market telemetry: recent 5-minute OHLCV bars per ticker, upserted into the central store's ``lane_telemetry``.

Free of Dagster, so it can be called from an asset, a sensor or a script. The provider
(:class:`resources.market_data.MarketDataProvider`) turns its vendor's answers into UTC :class:`Bar` objects;
:func:`ingest_bars` fetches every ticker through a :class:`MarketDataProvider`, keeps the bars that have
  started by ``now`` (and, for a daily partition or backfill, those of one UTC ``day``), and writes them all
  with one upsert keyed on ``(ticker, ts)``. Re-running is safe: a bar already stored is overwritten, which is
  also how the bar still forming at the last poll gets its final values on the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ops_assets.timekeeping import require_aware
from resources.central_schema import SqlStore, lane_telemetry
from resources.market_data import Bar, MarketDataProvider

logger = logging.getLogger(__name__)

UPDATE_COLUMNS = ("open", "high", "low", "close", "volume", "source", "ingested_at")
"""Columns a re-ingested bar overwrites: the values of a bar still forming change until it closes."""

OK = "ok"


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
    store: SqlStore,
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
    now = require_aware(now, "now").astimezone(UTC)
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


def _write(store: SqlStore, bars: list[Bar], source: str) -> int:
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
