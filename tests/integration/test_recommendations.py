"""Recommendations from stored sentiment and telemetry, then the dry-run dispatch, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from ops_assets.signals.dispatch import dispatch_pending
from ops_assets.signals.recommend import recommend_at
from ops_assets.signals.risk import RiskLimits
from ops_assets.signals.rules import SignalConfig
from resources.central_schema import (
    dispatch_executions,
    dispatch_recommendations,
    dispatch_status_history,
    inbound_events_classified,
    inbound_events_raw,
    lane_telemetry,
)
from resources.central_store import CentralStore

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def seed(store: CentralStore, *, scores: list[float], closes: list[float], ticker: str = "AXQT") -> None:
    raw, classified = [], []
    for i, score in enumerate(scores):
        uid = f"uid-{ticker}-{i}"
        at = NOW - timedelta(minutes=30 * (i + 1))
        raw.append(
            {"event_uid": uid, "feed_name": "f", "source_url": "http://x", "title": f"t{i}", "link": None}
            | {"summary": "", "published_at": at, "ingested_at": at, "processed_at": at, "raw": {}}
        )
        classified.append(
            {"event_uid": uid, "sentiment_label": "positive", "sentiment_score": score, "confidence": 0.9}
            | {"model_name": "test", "tickers": [ticker], "classified_at": at}
        )
    bars = [
        {"ticker": ticker, "ts": NOW - timedelta(minutes=5 * (len(closes) - i)), "open": c, "high": c, "low": c}
        | {"close": c, "volume": 1000.0, "source": "test", "ingested_at": NOW}
        for i, c in enumerate(closes)
    ]
    store.upsert(inbound_events_raw, raw, key=["event_uid"])
    store.upsert(inbound_events_classified, classified, key=["event_uid"])
    store.upsert(lane_telemetry, bars, key=["ticker", "ts"])


def test_positive_news_above_sma_recommends_buy_once_and_dispatch_fills_it(store: CentralStore) -> None:
    # 20 bars at 100 then a close at 110: close > SMA20; three articles with mean score 0.5.
    seed(store, scores=[0.4, 0.5, 0.6], closes=[100.0] * 19 + [110.0])
    [rec] = recommend_at(store, ["AXQT"], now=NOW, config=SignalConfig())
    assert rec.action == "BUY"
    assert rec.article_count == 3
    # The same evaluation again writes nothing (input fingerprint).
    assert recommend_at(store, ["AXQT"], now=NOW, config=SignalConfig()) == []
    with store.connect() as conn:
        rows = conn.execute(sa.select(dispatch_recommendations)).all()
        history = conn.execute(sa.select(dispatch_status_history.c.to_status)).scalars().all()
    assert [(r.ticker, r.action, r.status) for r in rows] == [("AXQT", "BUY", "PENDING")]
    assert history == ["PENDING"]

    summary = dispatch_pending(store, now=NOW + timedelta(minutes=1), limits=RiskLimits())
    assert summary.executed == 1
    with store.connect() as conn:
        [fill] = conn.execute(sa.select(dispatch_executions)).all()
    assert fill.fill_price == 110.0
    assert fill.quantity == 90  # floor(10,000 / 110)


def test_too_few_articles_or_price_below_sma_recommends_nothing(store: CentralStore) -> None:
    seed(store, scores=[0.9, 0.9], closes=[100.0] * 19 + [110.0], ticker="AXQT")
    seed(store, scores=[0.5, 0.5, 0.5], closes=[100.0] * 19 + [90.0], ticker="BZLK")
    assert recommend_at(store, ["AXQT", "BZLK"], now=NOW, config=SignalConfig()) == []


def test_future_data_is_not_used(store: CentralStore) -> None:
    seed(store, scores=[0.4, 0.5, 0.6], closes=[100.0] * 19 + [110.0])
    # Evaluated an hour earlier, the articles and the 110 close did not exist yet.
    assert recommend_at(store, ["AXQT"], now=NOW - timedelta(hours=1, minutes=1), config=SignalConfig()) == []
