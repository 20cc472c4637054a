"""One tick of the event pipeline (news -> classification -> telemetry -> signals -> dispatch), on SQLite
(local) and on the machine's PostgreSQL, against the local sample feed and Alpha Vantage servers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest
import sqlalchemy as sa

from ops_assets.markets.assets import markets_assets
from ops_assets.news.assets import news_assets
from ops_assets.news.feeds import parse_feed
from ops_assets.news.settings import NewsSettings
from ops_assets.partitions import daily_partitions
from ops_assets.signals.assets import signals_assets
from resources.central_schema import (
    dispatch_executions,
    dispatch_recommendations,
    feed_state,
    inbound_events_classified,
    inbound_events_raw,
    lane_telemetry,
)
from resources.central_store import CentralStore
from resources.sample_sources.feeds import SAMPLE_FEEDS, FeedSampleServer, render_feed
from resources.sample_sources.resources import SAMPLE_WATCHED_TICKERS

TODAY = daily_partitions.get_partition_key_for_timestamp(datetime.now(UTC).timestamp())


@pytest.fixture
def feeds() -> Iterator[FeedSampleServer]:
    with FeedSampleServer() as server:
        yield server


def resources(store_url: str, feed_urls: dict[str, str]) -> dict:
    from ops_assets.environments import local_resources

    found = local_resources()
    found["central_store"] = CentralStore(url=store_url)
    found["news_settings"] = NewsSettings(feeds=feed_urls, company_names=found["news_settings"].company_names)
    return found


def count(store_url: str, table: sa.Table) -> int:
    with CentralStore(url=store_url).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_news_tick_stores_each_item_once_and_classifies_it(local_env, store_url: str, feeds: FeedSampleServer) -> None:
    urls = {name: feeds.url_for(name) for name in SAMPLE_FEEDS}
    first = dg.materialize(news_assets, partition_key=TODAY, resources=resources(store_url, urls))
    assert first.success
    stored = count(store_url, inbound_events_raw)
    # Every distinct item of the three sample feeds, once (duplicates within and across feeds collapse).
    distinct = {item.event_uid for name in SAMPLE_FEEDS for item in parse_feed(name, render_feed(name))}
    assert stored == len(distinct)
    assert stored < sum(len(parse_feed(name, render_feed(name))) for name in SAMPLE_FEEDS)
    assert count(store_url, inbound_events_classified) == stored

    # Second tick: every feed answers 304, nothing new is stored or classified.
    second = dg.materialize(news_assets, partition_key=TODAY, resources=resources(store_url, urls))
    assert second.success
    assert count(store_url, inbound_events_raw) == stored
    with CentralStore(url=store_url).connect() as conn:
        statuses = dict(conn.execute(sa.select(feed_state.c.feed_name, feed_state.c.last_status)).all())
    assert set(statuses.values()) == {"not_modified"}

    # A new item is picked up alone.
    feeds.publish("marketwire")
    assert dg.materialize(news_assets, partition_key=TODAY, resources=resources(store_url, urls)).success
    assert count(store_url, inbound_events_raw) == stored + 1
    assert count(store_url, inbound_events_classified) == stored + 1


def test_broken_feeds_are_recorded_and_do_not_stop_the_others(
    local_env, store_url: str, feeds: FeedSampleServer
) -> None:
    feeds.inject("marketwire", status=500, times=10)
    urls = {
        "marketwire": feeds.url_for("marketwire"),
        "malformed": feeds.url_for("malformed"),
        "tickertape": feeds.url_for("tickertape"),
    }
    result = dg.materialize(news_assets, partition_key=TODAY, resources=resources(store_url, urls))
    assert result.success
    with CentralStore(url=store_url).connect() as conn:
        state = {row.feed_name: row for row in conn.execute(sa.select(feed_state)).all()}
    assert state["marketwire"].last_status == "error"
    assert "500" in state["marketwire"].last_error
    assert state["malformed"].last_status == "error"
    assert state["tickertape"].last_status == "ok"
    assert state["marketwire"].consecutive_failures == 1
    assert count(store_url, inbound_events_raw) > 0


def test_backfilling_a_past_day_of_telemetry_and_signals(local_env, store_url: str, feeds: FeedSampleServer) -> None:
    urls = {name: feeds.url_for(name) for name in SAMPLE_FEEDS}
    res = resources(store_url, urls)
    assert dg.materialize(news_assets, partition_key=TODAY, resources=res).success
    result = dg.materialize([*markets_assets, *signals_assets], partition_key="2026-11-20", resources=res)
    assert result.success
    with CentralStore(url=store_url).connect() as conn:
        days = {ts.date() for ts in conn.execute(sa.select(lane_telemetry.c.ts)).scalars()}
    assert days == {datetime(2026, 11, 20).date()}
    # The whole day from the provider's history, not only a live answer's last 100 bars.
    assert count(store_url, lane_telemetry) == 192 * len(SAMPLE_WATCHED_TICKERS)
    # The day's 5-minute marks replayed, each seeing only the news and bars known then: the sample's afternoon
    # news trades FJRX (three negative stories from 14:50, close under SMA20) and AXQT (three positive ones).
    trades = executed_trades(store_url)
    assert [(t.ticker, t.action, t.executed_at) for t in trades] == [
        ("FJRX", "SELL", datetime(2026, 11, 20, 16, 55, tzinfo=UTC)),
        ("AXQT", "BUY", datetime(2026, 11, 20, 17, 15, tzinfo=UTC)),
        ("FJRX", "SELL", datetime(2026, 11, 20, 17, 55, tzinfo=UTC)),  # after the 60-minute cooldown
    ]
    assert all(t.dry_run and t.notional <= 10_000 for t in trades)
    # Re-running the same day writes the same bars again (upsert), no new recommendation, no second fill.
    before = count(store_url, lane_telemetry)
    assert dg.materialize([*markets_assets, *signals_assets], partition_key="2026-11-20", resources=res).success
    assert count(store_url, lane_telemetry) == before
    assert count(store_url, dispatch_recommendations) == 3
    assert executed_trades(store_url) == trades


def executed_trades(store_url: str) -> list[sa.Row]:
    with CentralStore(url=store_url).connect() as conn:
        return list(conn.execute(sa.select(dispatch_executions).order_by(dispatch_executions.c.executed_at)))


def test_checks_pass_on_a_tick_and_catch_a_bad_bar(local_env, store_url: str, feeds: FeedSampleServer) -> None:
    from ops_assets.markets.checks import markets_checks
    from ops_assets.news.checks import news_checks
    from ops_assets.signals.checks import signals_checks

    urls = {name: feeds.url_for(name) for name in SAMPLE_FEEDS}
    res = resources(store_url, urls)
    everything = [*news_assets, *markets_assets, *signals_assets, *news_checks, *markets_checks, *signals_checks]
    result = dg.materialize(everything, partition_key="2026-11-20", resources=res)
    assert result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {
        ("raw_news_events", "feeds_are_healthy"): True,
        ("classified_events", "classification_keeps_up"): True,
        ("market_telemetry", "bars_are_consistent"): True,
        ("trade_recommendations", "status_history_is_complete"): True,
        ("trade_executions", "executions_match_statuses"): True,
        # On the dispatcher, which expires earlier days' PENDING rows before the check looks for them.
        ("trade_executions", "no_pending_past_its_day"): True,
    }

    bad_bar = {"ticker": "AXQT", "ts": datetime(2026, 11, 20, 15, 0, tzinfo=UTC), "open": 10.0, "high": 9.0}
    bad_bar |= {"low": 8.0, "close": 9.5, "volume": 1.0, "source": "test", "ingested_at": datetime.now(UTC)}
    CentralStore(url=store_url).upsert(lane_telemetry, [bad_bar], key=["ticker", "ts"], update=["open", "high"])
    [check] = markets_checks
    evaluation = check(central_store=CentralStore(url=store_url))
    assert not evaluation.passed
    assert evaluation.metadata["inconsistent_bars"].value == 1
