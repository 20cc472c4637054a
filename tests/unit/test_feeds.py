"""News feeds: parsing, identity (event_uid), dedupe, and the fetcher against the local sample feed server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ops_assets.news.feeds import (
    FeedParseError,
    NewsItem,
    dedupe,
    event_uid,
    normalize_link,
    normalize_title,
    parse_feed,
    plain_text,
)
from resources.rss import FeedFetch, RssFetcher
from resources.sample_sources.alpha_vantage import DEFAULT_TICKERS, ERROR_TICKER, SampleAlphaVantageData
from resources.sample_sources.feeds import (
    COMPANY_NAMES,
    MALFORMED_FEED,
    SAMPLE_FEEDS,
    SAMPLE_ITEMS,
    WORD_TICKERS,
    FeedSampleServer,
    render_feed,
)


@pytest.fixture
def server() -> Iterator[FeedSampleServer]:
    with FeedSampleServer() as srv:
        yield srv


@pytest.fixture
def fetcher() -> Iterator[RssFetcher]:
    client = RssFetcher(timeout_seconds=2, max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.02)
    yield client
    client.close()


def parsed(name: str) -> list[NewsItem]:
    return parse_feed(name, render_feed(name))


def by_title(items: list[NewsItem], start: str) -> list[NewsItem]:
    return [item for item in items if item.title.startswith(start)]


# ------------------------------------------------------------------------------------------------- parsing


def test_parse_rss_items_fields_and_utc_times() -> None:
    items = parsed("marketwire")
    assert len(items) == len(SAMPLE_ITEMS["marketwire"]) == 10
    first = items[0]
    assert first.feed_name == "marketwire"
    assert first.title == "$AXQT jumps 8% after Axqt Holdings raises full-year guidance"
    assert first.link == "https://wire.example.com/news/2026/11/20/axqt-raises-guidance"
    assert first.summary == "Axqt Holdings Inc (AXQT) lifted its revenue outlook for the year, citing strong orders."
    assert first.published_at == datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    # The second item's pubDate is written with a US Eastern offset: the same instant comes back in UTC.
    assert items[1].published_at == datetime(2026, 11, 20, 13, 40, tzinfo=UTC)
    assert all(item.published_at is not None and item.published_at.utcoffset().total_seconds() == 0 for item in items)
    assert first.raw["id"] == "urn:sample-news:marketwire:0001"
    assert set(first.raw) == {"id", "title", "link", "published", "summary"}
    json.dumps([item.raw for item in items])  # JSON-serialisable
    # Markup inside descriptions (escaped and CDATA) is gone.
    crwq = by_title(items, "Crwq Holdings")[0]
    assert "<" not in crwq.summary
    assert "Dvnx Industries at a 32% premium" in crwq.summary


def test_parse_atom_strips_markup_and_entities_and_converts_offsets() -> None:
    items = parsed("streetdesk")
    assert len(items) == len(SAMPLE_ITEMS["streetdesk"]) == 10
    ghxv = items[0]
    assert ghxv.title == "Ghxv Industries beats estimates as S&P 500 hits a record"
    assert ghxv.summary == "Ghxv Industries posted record revenue & raised its dividend."
    # <published> is written at +01:00; it is read as the same instant in UTC.
    assert ghxv.published_at == datetime(2026, 11, 20, 15, 10, tzinfo=UTC)
    assert ghxv.raw["id"] == "tag:streetdesk.example.org,2026:article/5101"


def test_missing_pub_date_is_none() -> None:
    eqzt = by_title(parsed("tickertape"), "$EQZT")[0]
    assert eqzt.published_at is None
    assert eqzt.raw["published"] is None


def test_plain_text_handles_double_escaping_blocks_and_literal_ampersands() -> None:
    assert plain_text("A &amp;amp; B <b>bold</b>") == "A & B bold"
    assert plain_text("<p>one</p><p>two</p>\n  three") == "one two three"
    assert plain_text("AT&T and R&D <script>x()</script>") == "AT&T and R&D"
    assert plain_text(None) == ""


def test_malformed_and_non_feed_bodies_raise_feed_parse_error() -> None:
    with pytest.raises(FeedParseError, match="feed broken"):
        parse_feed("broken", MALFORMED_FEED)
    for body in (b"", b'{"items": []}', b"<?xml version='1.0'?><rss><channel><item><title>x"[:30]):
        with pytest.raises(FeedParseError) as info:
            parse_feed("other", body)
        assert info.value.feed_name == "other"
        assert "feed other" in str(info.value)


def test_valid_empty_feed_and_truncated_feed() -> None:
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    assert parse_feed("empty", empty) == []
    truncated = render_feed("marketwire")[:1500]
    items = parse_feed("truncated", truncated)
    assert 0 < len(items) < 10  # what could be read is kept


def test_parse_feed_never_fetches_a_url(server: FeedSampleServer) -> None:
    with pytest.raises(FeedParseError):
        parse_feed("x", server.url_for("marketwire").encode())
    assert server.requests == []
    with pytest.raises(TypeError):
        parse_feed("x", server.url_for("marketwire"))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- identity


def test_normalize_link() -> None:
    assert (
        normalize_link("HTTPS://News.Example.COM:443/a/b/?utm_source=x&z=2&fbclid=abc&a=1&GCLID=q#frag")
        == "https://news.example.com/a/b?a=1&z=2"
    )
    assert normalize_link("http://example.com:8080/x/") == "http://example.com:8080/x"
    assert normalize_link("https://example.com/") == "https://example.com"
    assert normalize_link("https://example.com/Path?b=2&a=1") == "https://example.com/Path?a=1&b=2"


def test_event_uid_rules() -> None:
    by_guid = event_uid("urn:x:1", "https://a.example/x", "Title")
    assert by_guid == event_uid("urn:x:1", "https://b.example/other", "Another title")
    assert len(by_guid) == 64
    assert int(by_guid, 16) >= 0
    by_link = event_uid(None, "https://a.example/x?utm_medium=rss", "Shares  RISE")
    assert by_link == event_uid("", "HTTPS://A.example/x/#top", "shares rise")
    assert by_link != by_guid
    assert by_link != event_uid(None, "https://a.example/x", "Shares fall")  # same link, other story
    assert event_uid(None, None, "Headline") == event_uid(None, "  ", "headline")
    assert normalize_title("  Ünïcode\tＴＩＴＬＥ ") == "ünïcode title"


def test_uids_are_stable_across_polls_and_documents() -> None:
    first = [item.event_uid for item in parsed("marketwire")]
    again = [item.event_uid for item in parse_feed("marketwire", render_feed("marketwire"))]
    assert first == again
    # Published-into-the-middle feeds do not change the uids of items already seen.
    items = list(SAMPLE_ITEMS["tickertape"])
    reordered = parse_feed("tickertape", render_feed("tickertape", items[::-1]))
    assert {i.event_uid for i in reordered} == {i.event_uid for i in parsed("tickertape")}


def test_permalink_guid_is_identified_by_link_and_title() -> None:
    tape = parsed("tickertape")
    recall = by_title(tape, "Hwmz Industries")
    assert len(recall) == 2  # utm_* vs fbclid + upper-case host + trailing slash + re-cased headline
    assert recall[0].event_uid == recall[1].event_uid
    expected = event_uid(
        None,
        "https://news.example.com/markets/hwmz-recall?ref=home",
        "hwmz industries recalls 40,000 units; $hwmz falls 6%",
    )
    assert recall[0].event_uid == expected
    # An item with no guid at all is identified the same way.
    rates = by_title(tape, "Markets now price")[0]
    assert rates.raw["id"] is None
    assert rates.event_uid == event_uid(None, rates.link, rates.title)


def test_dedupe_within_and_across_feeds() -> None:
    wire, desk, tape = parsed("marketwire"), parsed("streetdesk"), parsed("tickertape")
    # Within a feed: the repeated wire item (same guid), the recall reposted with other tracking parameters.
    assert len(dedupe(wire)) == 9
    assert len(dedupe(tape)) == 4
    assert len(dedupe(desk)) == 10
    # Across feeds: the wire story syndicated under its guid, the recall syndicated under its permalink.
    combined = dedupe([*wire, *desk, *tape])
    assert len(combined) == 9 + 10 + 4 - 2
    assert len({item.event_uid for item in combined}) == len(combined)
    deal = [item for item in combined if item.title.startswith("Crwq Holdings")]
    assert [item.feed_name for item in deal] == ["marketwire"]  # first occurrence wins
    assert [item.feed_name for item in combined if item.title.lower().startswith("hwmz")] == ["streetdesk"]
    # Order is kept: the survivors appear in input order.
    everything = [*wire, *desk, *tape]
    positions = [next(i for i, item in enumerate(everything) if item is kept) for kept in combined]
    assert positions == sorted(positions)


def test_sample_universe_names_and_word_tickers() -> None:
    overview = SampleAlphaVantageData()
    for symbol in DEFAULT_TICKERS:
        if symbol != ERROR_TICKER:
            assert overview.response("OVERVIEW", {"symbol": symbol})["Name"] == COMPANY_NAMES[symbol]
    assert set(COMPANY_NAMES) == set(DEFAULT_TICKERS) | set(WORD_TICKERS)
    mentioned = {t for items in SAMPLE_ITEMS.values() for item in items for t in item.tickers}
    assert mentioned == set(COMPANY_NAMES)  # every company appears somewhere
    sentiments = {item.sentiment for items in SAMPLE_ITEMS.values() for item in items}
    assert sentiments == {"positive", "negative", "neutral"}
    assert render_feed("streetdesk") == render_feed("streetdesk")


# ------------------------------------------------------------------------------------------------- fetching


def test_fetch_then_conditional_get_is_not_modified(server: FeedSampleServer, fetcher: RssFetcher) -> None:
    url = server.url_for("marketwire")
    first = fetcher.fetch("marketwire", url)
    assert first.status == "ok"
    assert first.http_status == 200
    assert first.error is None
    assert first.body == server.body("marketwire")
    assert first.etag
    assert first.last_modified == "Fri, 20 Nov 2026 14:05:00 GMT"
    second = fetcher.fetch("marketwire", url, etag=first.etag, last_modified=first.last_modified)
    assert second == FeedFetch("marketwire", url, "not_modified", None, first.etag, first.last_modified, 304, None)
    seen = server.requests
    assert [r.if_none_match for r in seen] == [None, first.etag]
    assert seen[1].if_modified_since == first.last_modified
    assert seen[0].user_agent == fetcher.user_agent
    # If-Modified-Since alone is honoured too.
    third = fetcher.fetch("marketwire", url, last_modified=first.last_modified)
    assert third.status == "not_modified"


def test_published_item_is_picked_up_by_the_next_poll(server: FeedSampleServer, fetcher: RssFetcher) -> None:
    for name in SAMPLE_FEEDS:
        url = server.url_for(name)
        before = fetcher.fetch(name, url)
        seen = {item.event_uid for item in parse_feed(name, before.body or b"")}
        new = server.publish(name)
        after = fetcher.fetch(name, url, etag=before.etag, last_modified=before.last_modified)
        assert after.status == "ok", name
        assert after.etag != before.etag
        assert after.last_modified != before.last_modified
        fresh = [item for item in parse_feed(name, after.body or b"") if item.event_uid not in seen]
        assert [item.title for item in fresh] == [plain_text(new.title)], name
        assert fetcher.fetch(name, url, etag=after.etag).status == "not_modified"


def test_http_500_is_retried_then_succeeds(server: FeedSampleServer, fetcher: RssFetcher) -> None:
    server.inject("/feeds/streetdesk.xml", status=500, times=2)
    result = fetcher.fetch("streetdesk", server.url_for("streetdesk"))
    assert result.status == "ok"
    assert result.attempts == 3
    assert len(parse_feed("streetdesk", result.body or b"")) == 10
    assert len(server.requests) == 3


def test_http_500_exhausted_is_an_error_with_a_clear_message(server: FeedSampleServer, fetcher: RssFetcher) -> None:
    server.inject("marketwire", status=503, times=5)
    result = fetcher.fetch("marketwire", server.url_for("marketwire"), etag='"old"', last_modified="x")
    assert result.status == "error"
    assert result.error == "feed marketwire answered HTTP 503 after 3 attempts"
    assert result.http_status == 503
    assert result.body is None
    assert (result.etag, result.last_modified) == ('"old"', "x")  # keep what we had for the next poll
    assert len(server.requests) == 3


def test_http_404_is_an_error_without_retry(server: FeedSampleServer, fetcher: RssFetcher) -> None:
    result = fetcher.fetch("gone", server.base_url + "/feeds/gone.xml")
    assert result.status == "error"
    assert result.http_status == 404
    assert result.error is not None
    assert "feed gone answered HTTP 404" in result.error
    assert "not retried" in result.error
    assert len(server.requests) == 1
    server.inject("tickertape", status=429)
    assert fetcher.fetch("tickertape", server.url_for("tickertape")).status == "error"
    assert len(server.requests) == 2


def test_timeout_is_retried_then_an_error(server: FeedSampleServer) -> None:
    client = RssFetcher(timeout_seconds=0.2, max_attempts=2, backoff_initial_seconds=0.01, backoff_max_seconds=0.02)
    server.inject("marketwire", status=200, body=b"late", times=2, delay_seconds=0.6)
    started = time.monotonic()
    result = client.fetch("marketwire", server.url_for("marketwire"))
    assert time.monotonic() - started < 3
    assert result.status == "error"
    assert result.http_status is None
    assert result.error == "feed marketwire timed out (no answer within 0.2 s) after 2 attempts"
    client.close()


def test_feed_problems_never_raise(server: FeedSampleServer, fetcher: RssFetcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    feeds = {
        "refused": f"http://127.0.0.1:{closed_port}/feed.xml",
        "no-scheme": "not a url",
        "malformed": server.url_for("malformed"),
        "marketwire": server.url_for("marketwire"),
    }
    results = {name: fetcher.fetch(name, url) for name, url in feeds.items()}
    assert results["refused"].status == "error"
    assert (
        results["refused"].error == "feed refused could not be reached (connection refused or dropped) after 3 attempts"
    )
    assert results["no-scheme"].status == "error"
    assert "not retried" in (results["no-scheme"].error or "")
    # The malformed body is fetched fine; it is the parser that rejects it.
    assert results["malformed"].status == "ok"
    with pytest.raises(FeedParseError):
        parse_feed("malformed", results["malformed"].body or b"")
    assert results["marketwire"].status == "ok"


def test_oversized_body_is_an_error(server: FeedSampleServer) -> None:
    client = RssFetcher(max_body_bytes=1000, backoff_initial_seconds=0.01)
    result = client.fetch("marketwire", server.url_for("marketwire"))
    assert result.status == "error"
    assert "more than 1000 bytes" in (result.error or "")
    client.close()
