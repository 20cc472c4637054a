"""Checks on what the news assets write (they query the central store themselves, cheaply)."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from ops_assets.news.assets import classified_events, raw_news_events
from resources.central_schema import feed_state, inbound_events_classified, inbound_events_raw
from resources.central_store import CentralStore

# A feed failing this many polls in a row is worth a look.
FEED_FAILURE_ALERT = 3
# Items should be classified by the next minutely run; this much backlog means the classifier is behind.
BACKLOG_AGE = timedelta(minutes=10)


@dg.asset_check(asset=raw_news_events, description="No feed has failed 3 polls in a row.")
def feeds_are_healthy(central_store: CentralStore) -> dg.AssetCheckResult:
    with central_store.connect() as conn:
        failing = conn.execute(
            sa.select(feed_state.c.feed_name, feed_state.c.consecutive_failures, feed_state.c.last_error).where(
                feed_state.c.consecutive_failures >= FEED_FAILURE_ALERT
            )
        ).all()
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failing_feeds": dg.MetadataValue.json({r.feed_name: r.last_error for r in failing})},
    )


@dg.asset_check(
    asset=classified_events,
    description="Every stored item is classified within 10 minutes, and every score is within [-1, 1].",
)
def classification_keeps_up(central_store: CentralStore) -> dg.AssetCheckResult:
    cutoff = datetime.now(UTC) - BACKLOG_AGE
    raw, classified = inbound_events_raw, inbound_events_classified
    with central_store.connect() as conn:
        backlog = conn.execute(
            sa.select(sa.func.count()).where(raw.c.processed_at.is_(None), raw.c.ingested_at < cutoff)
        ).scalar_one()
        out_of_range = conn.execute(
            sa.select(sa.func.count()).where(
                sa.or_(classified.c.sentiment_score < -1, classified.c.sentiment_score > 1)
            )
        ).scalar_one()
    return dg.AssetCheckResult(
        passed=backlog == 0 and out_of_range == 0,
        metadata={"unclassified_older_than_10_min": backlog, "scores_out_of_range": out_of_range},
    )


news_checks = [feeds_are_healthy, classification_keeps_up]
