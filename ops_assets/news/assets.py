"""News: RSS items into the central store, then sentiment and the tickers each item names."""

from datetime import UTC, datetime

import dagster as dg

from ops_assets.event_settings import EventPipelineSettings
from ops_assets.monitoring.freshness import MINUTELY
from ops_assets.news.classify import classify_pending
from ops_assets.news.ingest import FeedConfig, poll_feeds
from ops_assets.partitions import daily_partitions, day_window
from resources.central_store import CentralStore
from resources.rss import RssFetcher
from resources.sample_sources.feeds import resolve_feed_url
from resources.sentiment import SentimentResource

GROUP = "news"


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    kinds={"python", "sql"},
    freshness_policy=MINUTELY,
)
def raw_news_events(
    context: dg.AssetExecutionContext,
    central_store: CentralStore,
    rss_fetcher: RssFetcher,
    event_settings: EventPipelineSettings,
) -> dg.MaterializeResult:
    """News items from the configured RSS feeds (`inbound_events_raw`, one row per item, UNIQUE event_uid).

    Polled every minute with conditional GETs; an item seen before, in any feed, is stored once. A broken or
    unreachable feed is recorded in `feed_state` with its error and does not stop the others.
    """
    feeds = [FeedConfig(f.name, resolve_feed_url(f.url)) for f in event_settings.feed_configs()]
    # Feeds only carry recent items, so a poll is always "now", whichever day's partition runs it.
    summary = poll_feeds(central_store, rss_fetcher, feeds, now=datetime.now(UTC))
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
            "feeds": dg.MetadataValue.json(
                {f.feed_name: {"status": f.status, "items": f.items, "error": f.error} for f in summary.feeds}
            ),
        }
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    deps=[raw_news_events],
    kinds={"python", "sql", "pytorch"},
    freshness_policy=MINUTELY,
)
def classified_events(
    context: dg.AssetExecutionContext,
    central_store: CentralStore,
    sentiment: SentimentResource,
    event_settings: EventPipelineSettings,
) -> dg.MaterializeResult:
    """Sentiment (P(positive) - P(negative)) and the tickers each news item names (`inbound_events_classified`).

    Items not yet classified are picked up by the next run; each is classified once. The model is FinBERT by
    default (or a lexicon on machines without it); tickers are matched against the watched universe.
    """
    # Everything still unclassified up to the partition's end: a late item from yesterday is not stranded.
    summary = classify_pending(
        central_store,
        sentiment,
        event_settings.ticker_universe(),
        now=datetime.now(UTC),
        ingested_before=day_window(context)[1],
    )
    return dg.MaterializeResult(
        metadata={
            "classified": summary.classified,
            "with_tickers": summary.with_tickers,
            "model": sentiment.model_name,
        }
    )


news_assets = [raw_news_events, classified_events]
