"""Forecasting: daily prices on the NYSE calendar, then the features the model reads."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from ops_assets.forecasting import keys
from ops_assets.forecasting.features import price_features as compute_features
from ops_assets.forecasting.ingest import TickerIngest, ingest_ticker, read_stored
from ops_assets.forecasting.partitions import NEW_YORK, partition_days, trading_days
from ops_assets.forecasting.settings import ForecastingSettings
from ops_assets.forecasting.storage import frame_to_parquet
from ops_assets.forecasting.trading_calendar import session_close
from ops_assets.freshness import TRADING_DAILY
from resources.object_store import ObjectStore
from resources.price_source import PriceSource, PriceSourceTickerError

GROUP = "forecasting"
OWNERS = ["team:forecasting"]


@dg.asset(
    partitions_def=trading_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "parquet"},
    freshness_policy=TRADING_DAILY,
)
def daily_prices(
    context: dg.AssetExecutionContext,
    price_source: PriceSource,
    object_store: ObjectStore,
    forecasting_settings: ForecastingSettings,
) -> dg.MaterializeResult:
    """Daily OHLCV per forecast ticker, one partition per NYSE session (`forecasting/prices/<TICKER>.parquet`).

    Stored split-adjusted for every split known, with the splits beside them; each provider answer is archived
    as received under `forecasting/raw/<TICKER>/year=/month=/day=/`. A backfill of a range fetches it in one
    request per ticker. A provider that changes stored days (a restatement or a split) is reported here, and
    the previous version is kept under `forecasting/prices/_superseded/`. A ticker the provider does not know,
    or answers empty for, is reported and the others go on.
    """
    first, last = partition_days(context)
    closes = session_close(last)
    if datetime.now(UTC) < closes:
        raise dg.Failure(
            description=f"The session of {last} closes at {closes.astimezone(ZoneInfo(NEW_YORK)):%H:%M} "
            f"New York time; its prices are not final before then. Run this partition after the close.",
            allow_retries=False,
        )
    settings = forecasting_settings
    done: dict[str, TickerIngest] = {}
    failed: dict[str, str] = {}
    for ticker in settings.tickers:
        try:
            done[ticker] = ingest_ticker(
                object_store,
                price_source,
                ticker,
                first,
                last,
                refetch=settings.refetch_sessions,
                history_start=date.fromisoformat(settings.history_start_date),
            )
        except PriceSourceTickerError as exc:
            failed[ticker] = str(exc)
            context.log.warning(f"{ticker}: {exc}")
    for ticker, outcome in done.items():
        if outcome.report.changed_history:
            context.log.warning(f"{ticker}: the provider changed stored history: {outcome.report.describe()}")
    if not done:
        raise dg.Failure(description="No ticker could be fetched: " + "; ".join(f"{t}: {e}" for t, e in failed.items()))
    return dg.MaterializeResult(
        metadata={
            "sessions": f"{first} .. {last}",
            "source": price_source.source,
            "tickers": dg.MetadataValue.json({t: o.as_metadata() for t, o in done.items()}),
            "failed_tickers": dg.MetadataValue.json(failed),
            "history_changed": sorted(t for t, o in done.items() if o.report.changed_history),
        }
    )


@dg.asset(
    partitions_def=trading_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    owners=OWNERS,
    deps=[daily_prices],
    kinds={"python", "pandas", "parquet"},
    freshness_policy=TRADING_DAILY,
)
def price_features(
    context: dg.AssetExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.MaterializeResult:
    """The model's inputs per ticker and session (`forecasting/features/<TICKER>.parquet`): avg_price = (O+H+L+C)/4,
    log returns over 1 and 5 sessions, 5- and 20-session volatility, avg_price against its 20-session mean, the
    day's range and a volume z-score. Each row uses only sessions up to its own day.
    """
    _, last = partition_days(context)
    rows = {}
    for ticker in forecasting_settings.tickers:
        prices, _ = read_stored(object_store, ticker)
        prices = prices[prices["day"] <= last]
        if not len(prices):
            context.log.warning(f"{ticker}: no stored prices up to {last}; no features.")
            continue
        features = compute_features(prices)
        object_store.put_bytes(keys.features_key(ticker), frame_to_parquet(features))
        rows[ticker] = len(features)
    return dg.MaterializeResult(metadata={"rows": dg.MetadataValue.json(rows), "up_to": str(last)})


forecasting_assets = [daily_prices, price_features]
