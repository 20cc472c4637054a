"""Writing trade recommendations from the central store's sentiment and telemetry (plain functions).

At an evaluation time ``now``, every watched ticker gets the rule of :mod:`ops_assets.signals.rules` applied
to what was public then: classified articles published by ``now`` (ingest time when the feed gives no
publication time) and 5-minute bars up to ``now`` (no look-ahead), so replaying a past day's 5-minute marks
(a backfill) gives the recommendations the live runs would have given. New recommendations are written
PENDING, each with its first status-history row, in one transaction; the input fingerprint makes a re-run of
the same evaluation write nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta

import sqlalchemy as sa

from ops_assets.signals.rules import Recommendation, SignalConfig, evaluate_ticker
from resources.central_schema import (
    SqlStore,
    dispatch_recommendations,
    dispatch_status_history,
    inbound_events_classified,
    inbound_events_raw,
    lane_telemetry,
)

# Bars fetched per ticker: enough 5-minute bars for SMA20 across a weekend or holiday.
BAR_LOOKBACK = timedelta(days=5)


def evaluate_at(
    store: SqlStore, tickers: Sequence[str], *, now: datetime, config: SignalConfig
) -> list[Recommendation]:
    """The recommendations the rule gives at ``now`` (not yet written)."""
    raw, classified, bars_t, recs = (
        inbound_events_raw,
        inbound_events_classified,
        lane_telemetry,
        dispatch_recommendations,
    )
    seen_at = sa.func.coalesce(raw.c.published_at, raw.c.ingested_at)
    with store.connect() as conn:
        articles = conn.execute(
            sa.select(classified.c.event_uid, classified.c.tickers, classified.c.sentiment_score, seen_at.label("at"))
            .join(raw, raw.c.event_uid == classified.c.event_uid)
            .where(seen_at > now - config.sentiment_window, seen_at <= now)
        ).all()
        bars = conn.execute(
            sa.select(bars_t.c.ticker, bars_t.c.ts, bars_t.c.close)
            .where(bars_t.c.ticker.in_(tickers), bars_t.c.ts <= now, bars_t.c.ts > now - BAR_LOOKBACK)
            .order_by(bars_t.c.ts)
        ).all()
        last = dict(
            conn.execute(
                sa.select(recs.c.ticker, sa.func.max(recs.c.created_at))
                .where(recs.c.ticker.in_(tickers), recs.c.created_at <= now)
                .group_by(recs.c.ticker)
            ).all()
        )
    sentiments: dict[str, list[tuple[str, datetime, float]]] = defaultdict(list)
    for article in articles:
        for ticker in article.tickers or []:
            sentiments[ticker].append((article.event_uid, article.at, article.sentiment_score))
    closes: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for bar in bars:
        closes[bar.ticker].append((bar.ts, bar.close))
    found = []
    for ticker in tickers:
        recommendation = evaluate_ticker(
            ticker,
            now=now,
            sentiments=sentiments[ticker],
            bars=closes[ticker],
            last_recommendation_at=last.get(ticker),
            config=config,
        )
        if recommendation:
            found.append(recommendation)
    return found


def write_recommendations(store: SqlStore, recommendations: Sequence[Recommendation]) -> list[Recommendation]:
    """Insert new recommendations as PENDING with their first history row; return the ones that were new."""
    if not recommendations:
        return []
    recs = dispatch_recommendations
    fingerprints = [r.input_fingerprint for r in recommendations]
    with store.begin() as conn:
        known = recs.c.input_fingerprint.in_(fingerprints)
        existing = set(conn.execute(sa.select(recs.c.input_fingerprint).where(known)).scalars())
        new = [r for r in recommendations if r.input_fingerprint not in existing]
        if not new:
            return []
        rows = [{**asdict(r), "status": "PENDING", "status_changed_at": r.created_at} for r in new]
        store.upsert(recs, rows, key=["input_fingerprint"], conn=conn)
        inserted = conn.execute(
            sa.select(recs.c.id, recs.c.created_at).where(
                recs.c.input_fingerprint.in_([r.input_fingerprint for r in new])
            )
        ).all()
        history = [
            {"recommendation_id": row.id, "from_status": None, "to_status": "PENDING", "reason": "recommended"}
            | {"changed_at": row.created_at}
            for row in inserted
        ]
        conn.execute(sa.insert(dispatch_status_history), history)
    return new


def recommend_at(
    store: SqlStore, tickers: Sequence[str], *, now: datetime, config: SignalConfig
) -> list[Recommendation]:
    """Evaluate the rule at ``now`` and write what is new; returns the new recommendations."""
    return write_recommendations(store, evaluate_at(store, tickers, now=now, config=config))
