"""Classifying stored news: sentiment and the tickers each item names (plain functions, no Dagster).

Unclassified items (``processed_at IS NULL``) are taken oldest first in batches; each batch is classified,
then its results and the ``processed_at`` marks are written in ONE transaction. An item is therefore
classified once: a failure before the commit leaves the whole batch unclassified for the next run, and the
``UNIQUE(event_uid)`` of ``inbound_events_classified`` stops a second copy even if two workers overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from ops_assets.news.feeds import collapse
from ops_assets.news.tickers import TickerUniverse, extract_tickers
from resources.central_schema import SqlStore, inbound_events_classified, inbound_events_raw


class Classifier(Protocol):
    @property
    def model_name(self) -> str: ...
    def classify(self, texts: list[str]) -> list[Any]: ...


@dataclass
class ClassifySummary:
    classified: int = 0
    with_tickers: int = 0
    batches: int = 0


def item_text(title: str, summary: str | None) -> str:
    """What the model reads: the headline, then the summary."""
    # Stored titles and summaries are plain text already (markup was stripped once, at ingest).
    return collapse(f"{title}. {summary}" if summary else title)


def classify_pending(
    store: SqlStore,
    classifier: Classifier,
    universe: TickerUniverse,
    *,
    now: datetime,
    batch_size: int = 64,
    max_items: int | None = None,
    ingested_before: datetime | None = None,
) -> ClassifySummary:
    """Classify unclassified items, oldest first (optionally only those ingested before a time: a backfilled day)."""
    raw = inbound_events_raw
    summary = ClassifySummary()
    while max_items is None or summary.classified < max_items:
        limit = batch_size if max_items is None else min(batch_size, max_items - summary.classified)
        query = sa.select(raw.c.event_uid, raw.c.title, raw.c.summary).where(raw.c.processed_at.is_(None))
        if ingested_before:
            query = query.where(raw.c.ingested_at < ingested_before)
        with store.connect() as conn:
            batch = conn.execute(query.order_by(raw.c.id).limit(limit)).all()
        if not batch:
            break
        texts = [item_text(row.title, row.summary) for row in batch]
        sentiments = classifier.classify(texts)
        rows = []
        for row, text, sentiment in zip(batch, texts, sentiments, strict=True):
            tickers = extract_tickers(text, universe)
            summary.with_tickers += bool(tickers)
            rows.append(
                {
                    "event_uid": row.event_uid,
                    "sentiment_label": sentiment.label,
                    "sentiment_score": sentiment.score,
                    "confidence": sentiment.confidence,
                    "model_name": classifier.model_name,
                    "tickers": tickers,
                    "classified_at": now,
                }
            )
        uids = [row.event_uid for row in batch]
        with store.begin() as conn:
            store.upsert(inbound_events_classified, rows, key=["event_uid"], conn=conn)
            conn.execute(sa.update(raw).where(raw.c.event_uid.in_(uids)).values(processed_at=now))
        summary.classified += len(batch)
        summary.batches += 1
    return summary
