"""The feeds' health as people read it in ``raw_news_events``' metadata (plain functions, no Dagster).

One row per configured feed: what this poll saw (``ok``, ``not_modified``, ``error``), the items read, when the
feed last answered (``feed_state.last_success_at``), how many polls in a row it has failed, and the error or
note (what was skipped or repaired).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ops_assets.news.ingest import FeedOutcome
from ops_assets.news.text import truncate
from resources.central_schema import SqlStore, feed_state

NOTE_MAX_CHARS = 160
"""A table cell stays readable; the full message is in the run's log and in ``feed_state.last_error``."""

HEALTH_HEADERS = ["feed", "this poll", "items", "last success", "failures in a row", "error / note"]


@dataclass(frozen=True)
class FeedHealth:
    feed: str
    status: str
    items: int
    last_success_at: datetime | None
    consecutive_failures: int
    note: str | None


def read_feed_states(store: SqlStore, names: Sequence[str]) -> dict[str, tuple[datetime | None, int]]:
    """``feed_name -> (last_success_at, consecutive_failures)`` from ``feed_state`` for the given feeds."""
    if not names:
        return {}
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(feed_state.c.feed_name, feed_state.c.last_success_at, feed_state.c.consecutive_failures).where(
                feed_state.c.feed_name.in_(list(names))
            )
        ).all()
    return {r.feed_name: (r.last_success_at, int(r.consecutive_failures or 0)) for r in rows}


def feed_health(outcomes: Sequence[FeedOutcome], states: dict[str, tuple[datetime | None, int]]) -> list[FeedHealth]:
    """This poll's outcome of each feed next to its stored state, feeds in name order."""
    return [
        FeedHealth(
            feed=o.feed_name,
            status=o.status,
            items=o.items,
            last_success_at=states.get(o.feed_name, (None, 0))[0],
            consecutive_failures=states.get(o.feed_name, (None, 0))[1],
            note=o.error,
        )
        for o in sorted(outcomes, key=lambda o: o.feed_name)
    ]


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "never"


def health_rows(health: Sequence[FeedHealth]) -> list[list[object]]:
    """Rows for a table with :data:`HEALTH_HEADERS` (notes cut to :data:`NOTE_MAX_CHARS`, one line)."""
    return [
        [
            h.feed,
            h.status,
            h.items,
            _when(h.last_success_at),
            h.consecutive_failures,
            truncate(" ".join(h.note.split()), NOTE_MAX_CHARS) if h.note else "",
        ]
        for h in health
    ]
