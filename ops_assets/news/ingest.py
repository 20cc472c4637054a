"""Polling the configured RSS feeds into ``inbound_events_raw`` (plain functions, no Dagster).

One poll: every feed is fetched with a conditional GET (its ETag / Last-Modified from ``feed_state``), parsed,
and then everything is written in ONE transaction — the new items (``INSERT ... ON CONFLICT (event_uid) DO
NOTHING``, so an item seen before, in this feed or another, is stored once) and every feed's state. If the
database goes away mid-poll nothing is written and the feeds' validators are not advanced, so the next poll
fetches the same items again and stores them. A broken, malformed or unreachable feed is recorded in
``feed_state`` with its error and never stops the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from ops_assets.news.feeds import FeedParseError, NewsItem, dedupe, parse_feed


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str


class Fetcher(Protocol):
    def fetch(self, feed_name: str, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Any: ...


@dataclass
class FeedOutcome:
    feed_name: str
    status: str  # ok | not_modified | error
    items: int = 0
    error: str | None = None


@dataclass
class IngestSummary:
    inserted: int = 0
    parsed: int = 0
    feeds: list[FeedOutcome] = field(default_factory=list)

    @property
    def failed_feeds(self) -> list[FeedOutcome]:
        return [f for f in self.feeds if f.status == "error"]


def _raw_row(item: NewsItem, url: str, now: datetime) -> dict[str, Any]:
    return {
        "event_uid": item.event_uid,
        "feed_name": item.feed_name,
        "source_url": url,
        "title": item.title,
        "link": item.link,
        "summary": item.summary,
        "published_at": item.published_at,
        "ingested_at": now,
        "processed_at": None,
        "raw": item.raw,
    }


def poll_feeds(store: Any, fetcher: Fetcher, feeds: Sequence[FeedConfig], *, now: datetime) -> IngestSummary:
    """Poll every feed once and store new items; see the module docstring."""
    from resources.central_store import feed_state, inbound_events_raw

    with store.connect() as conn:
        previous = {row.feed_name: row for row in conn.execute(sa.select(feed_state)).all()}

    summary = IngestSummary()
    items: list[tuple[NewsItem, str]] = []
    states: list[dict[str, Any]] = []
    for feed in feeds:
        before = previous.get(feed.name)
        fetched = fetcher.fetch(
            feed.name,
            feed.url,
            etag=before.etag if before and before.url == feed.url else None,
            last_modified=before.last_modified if before and before.url == feed.url else None,
        )
        outcome = FeedOutcome(feed.name, fetched.status, error=fetched.error)
        if fetched.status == "ok":
            try:
                parsed = parse_feed(feed.name, fetched.body or b"")
            except FeedParseError as exc:
                outcome = FeedOutcome(feed.name, "error", error=str(exc))
            else:
                outcome.items = len(parsed)
                items.extend((item, feed.url) for item in parsed)
        summary.feeds.append(outcome)
        failed = outcome.status == "error"
        # A failed poll or parse must not advance the validators, or the next poll would get a 304 and never
        # see the items this one could not read.
        etag, last_modified = (
            (before.etag, before.last_modified) if failed and before else (fetched.etag, fetched.last_modified)
        )
        states.append(
            {
                "feed_name": feed.name,
                "url": feed.url,
                "etag": None if failed and not before else etag,
                "last_modified": None if failed and not before else last_modified,
                "last_polled_at": now,
                "last_success_at": (before.last_success_at if before else None) if failed else now,
                "last_status": outcome.status,
                "last_error": outcome.error,
                "items_seen": (before.items_seen if before else 0) + outcome.items,
                "consecutive_failures": ((before.consecutive_failures if before else 0) + 1) if failed else 0,
            }
        )

    unique = dedupe(item for item, _ in items)
    url_of = {item.event_uid: url for item, url in reversed(items)}
    summary.parsed = len(items)
    with store.begin() as conn:
        summary.inserted = store.upsert(
            inbound_events_raw, [_raw_row(i, url_of[i.event_uid], now) for i in unique], key=["event_uid"], conn=conn
        )
        store.upsert(
            feed_state,
            states,
            key=["feed_name"],
            update=[c for c in states[0] if c != "feed_name"] if states else None,
            conn=conn,
        )
    return summary
