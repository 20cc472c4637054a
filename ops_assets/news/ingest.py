"""Polling the configured RSS feeds into ``inbound_events_raw`` (plain functions, no Dagster).

One poll: every feed is fetched with a conditional GET (its ETag / Last-Modified from ``feed_state``), parsed,
and then everything is written in ONE transaction — the new items (``INSERT ... ON CONFLICT (event_uid) DO
NOTHING``, so an item seen before, in this feed or another, is stored once) and every feed's state. If the
database goes away mid-poll nothing is written and the feeds' validators are not advanced, so the next poll
fetches the same items again and stores them.

One feed never stops the others, and one item never stops its feed:

- a feed that cannot be fetched, is not a feed, or makes the fetcher or the parser fail in any way (an
  exception of any kind, not only :class:`~ops_assets.news.feeds.FeedParseError`) is recorded in
  ``feed_state`` with ``last_status = 'error'`` and an ``last_error`` that says what to check, and keeps its
  old validators so the next poll reads it again;
- a feed that was read but had entries skipped (a link that is not a URL, an entry with nothing in it, entries
  past the per-feed cap of :data:`~ops_assets.news.feeds.MAX_ITEMS_PER_FEED`...), entries repaired (a future
  publication time set to the poll time, an over-long title cut...) or a parser warning (a document cut off
  halfway, a wrong encoding declaration) is ``ok``; its :class:`FeedOutcome` counts them (``skipped``,
  ``skip_reasons``, ``repaired``, ``future_dated``, ``warning``) and ``feed_state.last_error`` says what
  happened (``NULL`` when nothing did). See ``ops_assets.news.feeds``.

Every string written (titles, summaries, links, each string of the ``raw`` payload, the feed state's
validators and messages) goes through :func:`ops_assets.news.text.clean_text` once more at this boundary, so
no NUL or other character PostgreSQL refuses can fail the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from ops_assets.news.feeds import (
    FIXED_FUTURE_DATE,
    RAW_MAX_CHARS,
    FeedParseError,
    NewsItem,
    dedupe,
    read_feed,
)
from ops_assets.news.text import clean_json, clean_text, truncate
from ops_assets.timekeeping import require_aware
from resources.central_schema import SqlStore, feed_state, inbound_events_raw

logger = logging.getLogger(__name__)

_MESSAGE_MAX_CHARS = 2_000


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
    """Items read from the feed this poll (before deduplication; new or not)."""
    error: str | None = None
    """Why the feed failed (status ``error``), or, for a feed that was read, what was skipped or repaired and
    the parser's warning (:meth:`~ops_assets.news.feeds.FeedRead.report`); ``feed_state.last_error``."""
    skipped: int = 0
    """Entries of the feed that were not stored (see ``skip_reasons``)."""
    skip_reasons: dict[str, int] = field(default_factory=dict)
    """``skipped`` by reason (``"link is not a valid URL": 2``...)."""
    repaired: dict[str, int] = field(default_factory=dict)
    """Items stored after a repair, by kind (``"future publication time set to the poll time": 1``...)."""
    warning: str | None = None
    """The feed parser's complaint about a document it could still read (also in ``error``)."""

    @property
    def future_dated(self) -> int:
        """Items whose publication time was in the future and was stored as the poll's time."""
        return self.repaired.get(FIXED_FUTURE_DATE, 0)


@dataclass
class IngestSummary:
    inserted: int = 0
    parsed: int = 0
    feeds: list[FeedOutcome] = field(default_factory=list)

    @property
    def failed_feeds(self) -> list[FeedOutcome]:
        return [f for f in self.feeds if f.status == "error"]

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.feeds)


def _message(text: str) -> str:
    return truncate(clean_text(text), _MESSAGE_MAX_CHARS)


def _short(exc: BaseException) -> str:
    return truncate(" ".join(clean_text(str(exc)).split()), 200) or "no details"


def _text_or_none(value: object) -> str | None:
    return clean_text(value, keep_whitespace_controls=False) or None if isinstance(value, str) else None


def _raw_row(item: NewsItem, url: str, now: datetime) -> dict[str, Any]:
    return {
        "event_uid": item.event_uid,
        "feed_name": item.feed_name,
        "source_url": url,
        "title": clean_text(item.title),
        "link": clean_text(item.link, keep_whitespace_controls=False) if item.link is not None else None,
        "summary": clean_text(item.summary),
        "published_at": item.published_at,
        "ingested_at": now,
        "processed_at": None,
        "raw": clean_json(item.raw, max_chars=RAW_MAX_CHARS),
    }


def _poll_one(
    fetcher: Fetcher, feed: FeedConfig, before: Any, now: datetime
) -> tuple[FeedOutcome, Any, list[NewsItem]]:
    """Fetch and read one feed; never raises (anything unexpected becomes this feed's error)."""
    same_url = before is not None and before.url == feed.url
    try:
        fetched = fetcher.fetch(
            feed.name,
            feed.url,
            etag=before.etag if same_url else None,
            last_modified=before.last_modified if same_url else None,
        )
        status = fetched.status
    except Exception as exc:
        logger.exception("fetching feed %s failed unexpectedly", feed.name)
        error = (
            f"feed {feed.name} could not be fetched: the fetcher failed unexpectedly ({type(exc).__name__}: "
            f"{_short(exc)}); the next poll tries again, and if this repeats the fetcher needs fixing"
        )
        return FeedOutcome(feed.name, "error", error=_message(error)), None, []
    if status != "ok":
        error = fetched.error if status == "error" else None
        if status not in ("not_modified", "error"):
            status, error = "error", f"feed {feed.name} could not be fetched: unknown fetch status {status!r}"
        return FeedOutcome(feed.name, status, error=_message(error) if error else None), fetched, []
    try:
        read = read_feed(feed.name, fetched.body or b"", now=now)
    except FeedParseError as exc:
        return FeedOutcome(feed.name, "error", error=_message(str(exc))), fetched, []
    except Exception as exc:  # the parser choked on this document: this feed's error, not the poll's
        logger.exception("parsing feed %s failed unexpectedly", feed.name)
        error = (
            f"feed {feed.name} sent a document the feed parser could not read ({type(exc).__name__}: "
            f"{_short(exc)}); nothing from it was stored this poll. Open the feed URL to check the document or "
            "tell its publisher; the next poll tries again."
        )
        return FeedOutcome(feed.name, "error", error=_message(error)), fetched, []
    report = read.report()
    outcome = FeedOutcome(
        feed.name,
        "ok",
        items=len(read.items),
        error=_message(report) if report else None,
        skipped=read.skipped_count,
        skip_reasons=dict(read.skipped),
        repaired=dict(read.repaired),
        warning=_message(read.warning) if read.warning else None,
    )
    return outcome, fetched, read.items


def poll_feeds(store: SqlStore, fetcher: Fetcher, feeds: Sequence[FeedConfig], *, now: datetime) -> IngestSummary:
    """Poll every feed once and store new items; see the module docstring. ``now`` must be timezone-aware."""
    require_aware(now, "now")
    with store.connect() as conn:
        previous = {row.feed_name: row for row in conn.execute(sa.select(feed_state)).all()}

    summary = IngestSummary()
    items: list[tuple[NewsItem, str]] = []
    states: list[dict[str, Any]] = []
    for feed in feeds:
        before = previous.get(feed.name)
        outcome, fetched, read = _poll_one(fetcher, feed, before, now)
        items.extend((item, feed.url) for item in read)
        summary.feeds.append(outcome)
        failed = outcome.status == "error"
        # A failed poll or parse must not advance the validators, or the next poll would get a 304 and never
        # see the items this one could not read.
        if failed or fetched is None:
            etag, last_modified = (before.etag, before.last_modified) if before else (None, None)
        else:
            etag, last_modified = getattr(fetched, "etag", None), getattr(fetched, "last_modified", None)
        states.append(
            {
                "feed_name": feed.name,
                "url": feed.url,
                "etag": _text_or_none(etag),
                "last_modified": _text_or_none(last_modified),
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
