"""A feed on a bad day, end to end: one hostile feed beside good ones, polled into PostgreSQL and SQLite.

Beside it (second test): a UTF-16 feed and a UTF-32 feed each with one bad item beside a good one, a feed cut
off halfway, a feed of more entries than the per-feed cap, and a CDATA title the publisher HTML-escaped.

The hostile feed carries what real feeds send: NUL (as ``&#0;`` and as a raw byte), character references to
surrogates and beyond U+10FFFF, bidi overrides, a link with a bad port and one with an unbalanced bracket, a
date past the year 9999, a date two days in the future, a 1 MB title, summary-only items with and without
an identity, an empty item. The good feeds must be stored whole, the hostile feed's good items stored
cleaned, its bad items counted as skipped, every feed's ``feed_state`` row must say what happened, and a
second poll must store nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

import ops_assets.news.ingest as ingest
from ops_assets.news.feeds import (
    FIXED_FUTURE_DATE,
    FIXED_LONG_TITLE,
    FIXED_TITLE_FROM_SUMMARY,
    MAX_ITEMS_PER_FEED,
    SKIP_EMPTY,
    SKIP_INVALID_LINK,
    SKIP_NO_IDENTITY,
    SKIP_OVER_CAP,
    TITLE_MAX_CHARS,
)
from ops_assets.news.ingest import FeedConfig, poll_feeds
from resources.central_schema import feed_state, inbound_events_raw
from resources.central_store import CentralStore
from resources.rss import FeedFetch

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
FUTURE = NOW + timedelta(days=2)
FORBIDDEN = {chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]} | {
    chr(c) for c in [*range(0xD800, 0xE000), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}


def rss(*items: str) -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    ).encode()


WIRE = rss(
    *(
        f"<title>Wire story {n}</title><link>https://wire.example.com/{n}</link>"
        f"<guid isPermaLink='false'>wire-{n}</guid><pubDate>Fri, 20 Nov 2026 1{n}:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Body {n} &amp;amp; more&lt;/p&gt;</description>"
        for n in range(3)
    )
)
DESK = (
    b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>desk</title>'
    b'<entry><title type="html">Desk &lt;b&gt;one&lt;/b&gt;</title><id>tag:desk,2026:1</id>'
    b'<link href="https://desk.example.org/1"/><updated>2026-11-20T15:10:00Z</updated></entry>'
    b"<entry><title>Desk two</title><id>tag:desk,2026:2</id>"
    b'<link href="https://desk.example.org/2"/><updated>2026-11-20T16:10:00Z</updated></entry>'
    b"</feed>"
)
HOSTILE = rss(
    # Stored, cleaned:
    "<title>Nul&#0; in title\x00 and \u202eoverride\u202c</title><link>https://bad.example/1</link>"
    "<guid isPermaLink='false'>h-1</guid><description>raw\x00 nul &amp;#0; and \x07bell</description>",
    "<title>Surrogate &#xD800; and &#x110000; and &#55296; refs</title><guid isPermaLink='false'>h-2</guid>",
    "<title>Year ten thousand</title><guid isPermaLink='false'>h-3</guid><pubDate>9999-12-31T23:59:59-23:59</pubDate>",
    f"<title>From the future</title><guid isPermaLink='false'>h-4</guid>"
    f"<pubDate>{FUTURE.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>",
    f"<title>{'A' * 1_000_000}</title><guid isPermaLink='false'>h-5</guid>",
    "<description>Only a summary. With an identity.</description><guid isPermaLink='false'>h-6</guid>",
    # Skipped:
    "<title>Bad port</title><link>http://bad.example:99999/x</link><guid isPermaLink='false'>h-7</guid>",
    "<title>Bad bracket</title><link>http://[bad.example/x</link>",
    "<title>Bad permalink guid</title><guid>https://[bad.example/y</guid>",
    "<description>A summary with nothing to identify it.</description>",
    "<link>https://bad.example/empty</link>",
)
HOSTILE_STORED = 6
HOSTILE_SKIPPED = {SKIP_INVALID_LINK: 3, SKIP_NO_IDENTITY: 1, SKIP_EMPTY: 1}


@dataclass
class DictFetcher:
    """Serves fixed bytes per feed URL (``None``: the fetcher itself blows up)."""

    bodies: dict[str, bytes | None]
    calls: list[str] = field(default_factory=list)

    def fetch(self, feed_name: str, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Any:
        self.calls.append(feed_name)
        body = self.bodies[url]
        if body is None:
            raise ConnectionResetError("socket exploded")
        return FeedFetch(feed_name, url, "ok", body, '"v1"', "Fri, 20 Nov 2026 16:00:00 GMT", 200, None)


FEEDS = [
    FeedConfig("wire", "https://feeds.example/wire.xml"),
    FeedConfig("hostile", "https://feeds.example/hostile.xml"),
    FeedConfig("desk", "https://feeds.example/desk.xml"),
    FeedConfig("garbage", "https://feeds.example/garbage.xml"),
    FeedConfig("cursed", "https://feeds.example/cursed.xml"),
    FeedConfig("exploding", "https://feeds.example/exploding.xml"),
]
BODIES: dict[str, bytes | None] = {
    "https://feeds.example/wire.xml": WIRE,
    "https://feeds.example/hostile.xml": HOSTILE,
    "https://feeds.example/desk.xml": DESK,
    "https://feeds.example/garbage.xml": b"<html><body>502 Bad Gateway\x00</body></html>",
    "https://feeds.example/cursed.xml": rss("<title>the parser will choke on this feed</title>"),
    "https://feeds.example/exploding.xml": None,
}


@pytest.fixture
def cursed_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the parser fail in a way nobody planned for, for the ``cursed`` feed only."""
    real = ingest.read_feed

    def read_feed(feed_name: str, body: bytes, *, now: datetime | None = None) -> Any:
        if feed_name == "cursed":
            raise RecursionError("maximum recursion depth exceeded")
        return real(feed_name, body, now=now)

    monkeypatch.setattr(ingest, "read_feed", read_feed)


def rows(store: CentralStore) -> dict[str, Any]:
    with store.connect() as conn:
        return {row.event_uid: row for row in conn.execute(sa.select(inbound_events_raw)).all()}


def states(store: CentralStore) -> dict[str, Any]:
    with store.connect() as conn:
        return {row.feed_name: row for row in conn.execute(sa.select(feed_state)).all()}


def strings_of(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *strings_of(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v)]
    return []


@pytest.mark.usefixtures("cursed_parser")
def test_hostile_feed_beside_good_ones(store: CentralStore) -> None:
    fetcher = DictFetcher(BODIES)
    summary = poll_feeds(store, fetcher, FEEDS, now=NOW)

    outcomes = {outcome.feed_name: outcome for outcome in summary.feeds}
    assert {name: o.status for name, o in outcomes.items()} == {
        "wire": "ok",
        "hostile": "ok",
        "desk": "ok",
        "garbage": "error",
        "cursed": "error",
        "exploding": "error",
    }
    hostile = outcomes["hostile"]
    assert hostile.items == HOSTILE_STORED
    assert hostile.skipped == sum(HOSTILE_SKIPPED.values())
    assert hostile.skip_reasons == HOSTILE_SKIPPED
    assert hostile.future_dated == 2  # two days ahead, and the year 9999+ date
    assert hostile.repaired == {FIXED_FUTURE_DATE: 2, FIXED_LONG_TITLE: 1, FIXED_TITLE_FROM_SUMMARY: 1}
    assert summary.inserted == 3 + HOSTILE_STORED + 2
    assert summary.skipped == hostile.skipped

    stored = rows(store)
    assert len(stored) == summary.inserted
    by_feed: dict[str, list[Any]] = {}
    for row in stored.values():
        by_feed.setdefault(row.feed_name, []).append(row)
    assert sorted(r.title for r in by_feed["wire"]) == ["Wire story 0", "Wire story 1", "Wire story 2"]
    # The description is HTML escaped for XML: XML decoding gives "<p>Body 0 &amp; more</p>", one HTML decode this.
    assert {r.summary for r in by_feed["wire"]} == {"Body 0 & more", "Body 1 & more", "Body 2 & more"}
    assert sorted(r.title for r in by_feed["desk"]) == ["Desk one", "Desk two"]

    titles = {row.raw["id"]: row for row in by_feed["hostile"]}
    assert set(titles) == {"h-1", "h-2", "h-3", "h-4", "h-5", "h-6"}
    assert titles["h-1"].title == "Nul in title and override"
    assert titles["h-1"].summary == "raw nul \ufffd and bell"
    assert titles["h-2"].title == "Surrogate and and refs"
    assert titles["h-3"].published_at == NOW
    assert titles["h-4"].published_at == NOW
    assert titles["h-4"].raw["future_published_at"] == FUTURE.isoformat()
    assert len(titles["h-5"].title) == TITLE_MAX_CHARS
    assert titles["h-5"].title.endswith("…")
    assert titles["h-6"].title == "Only a summary."
    for row in stored.values():
        for text in [row.title, row.summary or "", row.link or "", *strings_of(row.raw)]:
            assert not FORBIDDEN & set(text), (row.feed_name, text[:80])

    state = states(store)
    assert state["hostile"].last_status == "ok"
    assert state["hostile"].consecutive_failures == 0
    assert state["hostile"].items_seen == HOSTILE_STORED
    assert state["hostile"].last_error.startswith("feed hostile was read with problems: 5 of 11 items skipped")
    assert f"{SKIP_INVALID_LINK}: 3" in state["hostile"].last_error
    assert f"{FIXED_FUTURE_DATE}: 2" in state["hostile"].last_error
    assert state["wire"].last_error is None
    assert state["desk"].last_error is None
    assert state["garbage"].last_status == "error"
    assert "not an RSS or Atom feed" in state["garbage"].last_error
    assert "\x00" not in state["garbage"].last_error
    assert state["cursed"].last_status == "error"
    assert state["cursed"].last_error.startswith(
        "feed cursed sent a document the feed parser could not read (RecursionError"
    )
    assert "tell its publisher" in state["cursed"].last_error
    assert state["exploding"].last_status == "error"
    assert "fetcher failed unexpectedly (ConnectionResetError: socket exploded)" in state["exploding"].last_error
    for name in ("garbage", "cursed", "exploding"):
        assert state[name].consecutive_failures == 1
        assert state[name].etag is None  # a failed poll never advances the validators
    assert state["wire"].etag == '"v1"'

    # The same documents again: nothing new is stored, the counts are the same, failures keep counting.
    again = poll_feeds(store, fetcher, FEEDS, now=NOW + timedelta(minutes=1))
    assert again.inserted == 0
    assert rows(store).keys() == stored.keys()
    assert {o.feed_name: o.skipped for o in again.feeds}["hostile"] == hostile.skipped
    after = states(store)
    assert after["hostile"].items_seen == 2 * HOSTILE_STORED
    assert after["cursed"].consecutive_failures == 2
    assert after["wire"].consecutive_failures == 0
    assert fetcher.calls == [feed.name for feed in FEEDS] * 2


def test_every_feed_bad_still_records_state(store: CentralStore) -> None:
    feeds = [FeedConfig("garbage", "https://feeds.example/garbage.xml"), FeedConfig("x", "https://feeds.example/x")]
    fetcher = DictFetcher({"https://feeds.example/garbage.xml": b"\x00" * 64, "https://feeds.example/x": None})
    summary = poll_feeds(store, fetcher, feeds, now=NOW)
    assert [o.status for o in summary.feeds] == ["error", "error"]
    assert summary.inserted == 0
    assert {name: row.last_status for name, row in states(store).items()} == {"garbage": "error", "x": "error"}


def wide(codec: str) -> bytes:
    """A feed in ``codec`` (with its byte order mark) whose first item holds a reference to a lone surrogate."""
    document = (
        '<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><title>wide</title>'
        f"<item><title>Bad &#xD800; item in {codec}</title><guid isPermaLink='false'>{codec}-bad</guid></item>"
        f"<item><title>Good item in {codec} caf\u00e9</title><guid isPermaLink='false'>{codec}-good</guid></item>"
        "</channel></rss>"
    )
    return document.encode(codec)  # "utf-16"/"utf-32" write a byte order mark


CUT = rss(*(f"<title>Cut story {n}</title><guid isPermaLink='false'>cut-{n}</guid>" for n in range(4)))
CUT = CUT[: CUT.index(b"<title>Cut story 2</title>") + len(b"<title>Cut story 2</title><gu")]
FLOOD = rss(*(f"<title>Flood {n}</title><guid isPermaLink='false'>flood-{n}</guid>" for n in range(650)))
CDATA = rss("<title><![CDATA[Apple&#39;s &amp; Nvidia&#8217;s <b>day</b>]]></title><guid isPermaLink='false'>cd</guid>")


def test_wide_cut_off_flooded_and_cdata_feeds(store: CentralStore) -> None:
    bodies: dict[str, bytes | None] = {
        "https://feeds.example/u16.xml": wide("utf-16"),
        "https://feeds.example/u32.xml": wide("utf-32"),
        "https://feeds.example/cut.xml": CUT,
        "https://feeds.example/flood.xml": FLOOD,
        "https://feeds.example/cdata.xml": CDATA,
    }
    feeds = [FeedConfig(url.rsplit("/", 1)[1].removesuffix(".xml"), url) for url in bodies]
    summary = poll_feeds(store, DictFetcher(bodies), feeds, now=NOW)
    assert {o.feed_name: o.status for o in summary.feeds} == dict.fromkeys(
        ("u16", "u32", "cut", "flood", "cdata"), "ok"
    )

    stored = rows(store)
    titles: dict[str, list[str]] = {}
    for row in sorted(stored.values(), key=lambda row: row.title):
        titles.setdefault(row.feed_name, []).append(row.title)
    # A bad reference in a UTF-16/32 feed costs that reference, never the feed.
    assert titles["u16"] == ["Bad item in utf-16", "Good item in utf-16 café"]
    assert titles["u32"] == ["Bad item in utf-32", "Good item in utf-32 café"]
    assert titles["cut"] == ["Cut story 0", "Cut story 1", "Cut story 2"]
    assert titles["cdata"] == ["Apple's & Nvidia’s day"]
    assert len(titles["flood"]) == MAX_ITEMS_PER_FEED
    assert {r.raw["id"] for r in stored.values() if r.feed_name == "flood"} == {f"flood-{n}" for n in range(500)}

    state = states(store)
    # A feed cut off halfway is read (status ok), but its state says the parser complained.
    assert state["cut"].last_status == "ok"
    assert state["cut"].last_error.startswith("feed cut was read, but the feed parser warned: ")
    assert {o.feed_name: o.warning for o in summary.feeds}["cut"] in state["cut"].last_error
    assert state["flood"].last_status == "ok"
    assert state["flood"].last_error == (
        f"feed flood was read with problems: 150 of 650 items skipped ({SKIP_OVER_CAP}: 150)"
    )
    assert {o.feed_name: o.skip_reasons for o in summary.feeds}["flood"] == {SKIP_OVER_CAP: 150}
    for name in ("u16", "u32", "cdata"):
        assert state[name].last_error is None, name


def test_a_naive_poll_time_is_refused(store: CentralStore) -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        poll_feeds(store, DictFetcher(BODIES), FEEDS, now=NOW.replace(tzinfo=None))
    assert states(store) == {}
