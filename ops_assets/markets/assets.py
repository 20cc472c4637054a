"""Markets: 5-minute OHLCV bars of the watched tickers."""

import dagster as dg

from ops_assets.freshness import FIVE_MINUTELY
from ops_assets.markets.settings import MarketsSettings
from ops_assets.markets.telemetry import ingest_bars
from ops_assets.partitions import daily_partitions, day_window, evaluation_time
from resources.central_store import CentralStore
from resources.market_data import MarketDataProvider

GROUP = "markets"
OWNERS = ["team:markets"]


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "sql"},
    freshness_policy=FIVE_MINUTELY,
)
def market_telemetry(
    context: dg.AssetExecutionContext,
    central_store: CentralStore,
    market_data: MarketDataProvider,
    markets_settings: MarketsSettings,
) -> dg.MaterializeResult:
    """5-minute OHLCV bars per watched ticker (`lane_telemetry`, one row per ticker and bar start, UTC).

    Re-polled every 5 minutes from the provider's latest bars; a bar still forming is revised by the next poll
    (upsert on ticker + ts). A backfill of a past day asks the provider's history for that day (Alpha Vantage:
    the month's bars) and stores the day's bars.
    """
    if not markets_settings.watched_tickers:
        raise dg.Failure(
            description="No tickers are watched: set OPS_MARKETS_WATCHED_TICKERS (e.g. AAPL,MSFT) or the "
            "markets_settings watched_tickers config.",
            allow_retries=False,
        )
    start, end = day_window(context)
    now = evaluation_time(context)
    summary = ingest_bars(
        central_store,
        market_data,
        markets_settings.watched_tickers,
        now=now,
        day=start.date(),
        from_history=now >= end,
    )
    failed = summary.failed
    for ticker, status in failed.items():
        context.log.warning(f"{ticker}: {status}")
    return dg.MaterializeResult(
        metadata={
            "bars_written": summary.bars_written,
            "tickers": len(summary.per_ticker),
            # The contract the signals domain reads: which tickers this run watched.
            "watched_tickers": dg.MetadataValue.json(list(markets_settings.watched_tickers)),
            "failed": dg.MetadataValue.json(failed),
        }
    )


markets_assets = [market_telemetry]
