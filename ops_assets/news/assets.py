"""News: RSS items into the central store, then sentiment and the tickers each item names."""

from datetime import UTC, datetime

import dagster as dg

from ops_assets.freshness import MINUTELY
from ops_assets.news.classify import classify_pending
from ops_assets.news.health import HEALTH_HEADERS, feed_health, health_rows, read_feed_states
from ops_assets.news.ingest import poll_feeds
from ops_assets.news.settings import NewsSettings
from ops_assets.news.tickers import TickerUniverse
from ops_assets.partitions import daily_partitions, day_window
from ops_assets.tables import markdown_table
from resources.central_store import CentralStore
from resources.object_store import ObjectNotFoundError, ObjectStore
from resources.rss import RssFetcher
from resources.sentiment import SentimentResource

GROUP = "news"
OWNERS = ["team:news"]

ETF_HOLDINGS = dg.AssetKey("etf_holdings")
"""The fundamentals domain's weekly ETF holdings: the default universe news is matched against. Its
materializations record ``object_key``, the object-store key of ``{"holdings": [{"symbol", "description"}]}``."""

# Weeks of etf_holdings tried, newest first, before giving up on the holdings.
HOLDINGS_LOOKBACK = 10


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "sql"},
    freshness_policy=MINUTELY,
)
def raw_news_events(
    context: dg.AssetExecutionContext,
    central_store: CentralStore,
    rss_fetcher: RssFetcher,
    news_settings: NewsSettings,
) -> dg.MaterializeResult:
    """News items from the configured RSS feeds (`inbound_events_raw`, one row per item, UNIQUE event_uid).

    Polled every minute with conditional GETs; an item seen before, in any feed, is stored once. A broken or
    unreachable feed is recorded in `feed_state` with its error and does not stop the others; a bad item is
    skipped and counted, the rest of its feed is stored. The metadata's `feed_health` table shows each feed:
    this poll's status, items read, its last success, failures in a row and its error or note.
    """
    feeds = news_settings.feed_configs()
    # Feeds only carry recent items, so a poll is always "now", whichever day's partition runs it.
    summary = poll_feeds(central_store, rss_fetcher, feeds, now=datetime.now(UTC))
    health = feed_health(summary.feeds, read_feed_states(central_store, [f.feed_name for f in summary.feeds]))
    for feed in summary.failed_feeds:
        context.log.warning(f"Feed {feed.feed_name}: {feed.error}")
    if feeds and len(summary.failed_feeds) == len(feeds):
        raise dg.Failure(
            description="Every feed failed this poll: "
            + "; ".join(f"{f.feed_name}: {f.error}" for f in summary.failed_feeds)
        )
    return dg.MaterializeResult(
        metadata={
            "new_items": summary.inserted,
            "items_read": summary.parsed,
            "feeds_failed": len(summary.failed_feeds),
            "feed_health": markdown_table(HEALTH_HEADERS, health_rows(health)),
        }
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    owners=OWNERS,
    deps=[raw_news_events, dg.AssetDep(ETF_HOLDINGS, partition_mapping=dg.LastPartitionMapping())],
    # No "pytorch" kind: locally the lexicon classifies; the backend actually used is in the metadata.
    kinds={"python", "sql"},
    freshness_policy=MINUTELY,
)
def classified_events(
    context: dg.AssetExecutionContext,
    central_store: CentralStore,
    sentiment: SentimentResource,
    object_store: ObjectStore,
    news_settings: NewsSettings,
) -> dg.MaterializeResult:
    """Sentiment (P(positive) - P(negative)) and the tickers each news item names (`inbound_events_classified`).

    Items not yet classified are picked up by the next run; each is classified once. The sentiment backend is
    the deployment's choice (a FinBERT-style model with transformers, or the VADER lexicon); each materialization
    records the one that actually ran in `sentiment_backend` (and, for a model, `model_path` and
    `model_revision`). Tickers are matched against the newest ETF holdings (`etf_holdings`: symbols and
    company names) plus the configured `company_names`.
    """
    universe, source = ticker_universe(context.instance, object_store, news_settings)
    # Everything still unclassified up to the partition's end: a late item from yesterday is not stranded.
    summary = classify_pending(
        central_store,
        sentiment,
        universe,
        now=datetime.now(UTC),
        ingested_before=day_window(context)[1],
    )
    return dg.MaterializeResult(
        metadata={
            "classified": summary.classified,
            "with_tickers": summary.with_tickers,
            "model": sentiment.model_name,
            **sentiment.backend().as_metadata(),
            "universe": f"{len(universe.symbols)} tickers ({source})",
        }
    )


def ticker_universe(
    instance: dg.DagsterInstance, object_store: ObjectStore, settings: NewsSettings
) -> tuple[TickerUniverse, str]:
    """The newest ETF holdings plus the configured names, and a few words saying where they came from."""
    holdings, found, problems = newest_holdings(instance, object_store)
    sources = [f"etf_holdings {found}"] if found else []
    if settings.company_names:
        sources.append(f"{len(settings.company_names)} configured names")
    if not sources:
        why = "; ".join(problems) or "etf_holdings has never been materialized"
        raise dg.Failure(
            description=f"No tickers to match news against ({why}) and no company_names are configured. "
            "Materialize the fundamentals' etf_holdings (weekly_fundamentals_job) or set OPS_NEWS_COMPANY_NAMES; "
            "the items stay unclassified until then.",
            allow_retries=False,
        )
    return TickerUniverse.from_holdings(holdings, extra_names=settings.company_names), " + ".join(sources)


def newest_holdings(
    instance: dg.DagsterInstance, object_store: ObjectStore
) -> tuple[list[dict[str, str]], str | None, list[str]]:
    """The holdings of the newest etf_holdings week that can be read: (holdings, its partition, what was wrong
    with newer ones). Weekly keys are ISO dates, so the newest is the largest; an unreadable week (materialized
    before it recorded ``object_key``, its object gone, no ``holdings`` in it) falls back to the week before."""
    problems: list[str] = []
    for partition in sorted(instance.get_materialized_partitions(ETF_HOLDINGS), reverse=True)[:HOLDINGS_LOOKBACK]:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=ETF_HOLDINGS, asset_partitions=[partition]), limit=1
        ).records
        materialization = records[0].asset_materialization if records else None
        key = materialization.metadata.get("object_key") if materialization else None
        if key is None:
            problems.append(f"week {partition} was materialized before it recorded object_key (re-materialize it)")
            continue
        try:
            holdings = object_store.get_json(str(key.value)).get("holdings")
        except ObjectNotFoundError:
            problems.append(f"week {partition}'s holdings object {key.value} is gone")
            continue
        if not isinstance(holdings, list) or not holdings:
            problems.append(f"week {partition}'s holdings object {key.value} lists no holdings")
            continue
        return holdings, partition, problems
    return [], None, problems


news_assets = [raw_news_events, classified_events]
