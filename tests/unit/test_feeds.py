"""News feeds: parsing, identity (event_uid), dedupe, and the fetcher against the local sample feed server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ops_assets.news.feeds import (
    FIXED_BAD_DATE,
    FIXED_FUTURE_DATE,
    FIXED_LONG_SUMMARY,
    FIXED_LONG_TITLE,
    FIXED_TITLE_FROM_SUMMARY,
    MAX_ITEMS_PER_FEED,
    RAW_MAX_CHARS,
    SKIP_EMPTY,
    SKIP_INVALID_LINK,
    SKIP_LONG_LINK,
    SKIP_NO_IDENTITY,
    SKIP_OVER_CAP,
    SUMMARY_MAX_CHARS,
    TITLE_MAX_CHARS,
    FeedParseError,
    NewsItem,
    dedupe,
    event_uid,
    is_permalink,
    normalize_link,
    normalize_title,
    parse_feed,
    plain_text,
    read_feed,
    sanitize_document,
    skip_over_cap,
    title_from_summary,
    unwrap_title_cdata,
)
from ops_assets.news.text import clean_json, clean_text, truncate
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
    # The publisher escaped its HTML title once too often; it is decoded exactly once (XML, then the HTML
    # layer the type="html" declares), so the surplus escaping stays visible instead of being guessed away.
    assert ghxv.title == "Ghxv Industries <b>beats</b> estimates as S&amp;P 500 hits a record"
    assert ghxv.summary == "Ghxv Industries posted record revenue & raised its dividend."
    # <published> is written at +01:00; it is read as the same instant in UTC.
    assert ghxv.published_at == datetime(2026, 11, 20, 15, 10, tzinfo=UTC)
    assert ghxv.raw["id"] == "tag:streetdesk.example.org,2026:article/5101"


def test_missing_pub_date_is_none() -> None:
    eqzt = by_title(parsed("tickertape"), "$EQZT")[0]
    assert eqzt.published_at is None
    assert eqzt.raw["published"] is None


def test_plain_text_decodes_once_and_handles_blocks_and_literal_ampersands() -> None:
    assert plain_text("A &amp;amp; B <b>bold</b>") == "A &amp; B bold"  # one level of escaping, not two
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


# ------------------------------------------------------------------------------------------------- hostile feeds

NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
# Characters no stored text may hold (NUL and other C0/C1 controls, lone surrogates, bidi overrides/isolates).
FORBIDDEN = {chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]} | {
    chr(c) for c in [*range(0xD800, 0xE000), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}


def rss(*items: str, channel: str = "<title>t</title>") -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>{channel}{body}</channel></rss>'.encode()


def atom(*entries: str) -> bytes:
    body = "".join(f"<entry>{entry}</entry>" for entry in entries)
    return f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{body}</feed>'.encode()


def strings_of(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item)


def assert_clean(item: NewsItem) -> None:
    for text in [item.title, item.summary, item.link or "", *strings_of(item.raw)]:
        assert not FORBIDDEN & set(text), repr(text)


def test_clean_text_removes_exactly_the_forbidden_characters() -> None:
    dirty = "a\x00b\x01c\x1fd\x7fe\x85f\x9fg\ud800h\udfffi\u202aj\u202ek\u2066l\u2069m\ufffen\uffffo"
    assert clean_text(dirty) == "abcdefghijklmno"
    assert clean_text("tab\tnew\nline\rok é 日本 \u200f 😀") == "tab\tnew\nline\rok é 日本 \u200f 😀"
    assert clean_text("a\tb\nc", keep_whitespace_controls=False) == "abc"
    assert clean_json({"k\x00": ["x\x00y", 1, None, True, {"n": "\u202e"}], "f": float("nan")}) == {
        "k": ["xy", 1, None, True, {"n": ""}],
        "f": "nan",
    }


def test_truncate_cuts_on_a_character_boundary() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("abcdefghij", 5) == "abcd…"
    assert len(truncate("x" * 1_000_000, 1000)) == 1000
    # A base letter is never separated from its combining accent, nor an emoji from its ZWJ sequence.
    assert truncate("aaae\u0301\u0301zzz", 5) == "aaa…"
    assert truncate("ab👩\u200d💻zz", 4) == "ab…"
    assert truncate("word   more", 8) == "word…"


def test_a_bad_item_is_skipped_and_counted_and_the_rest_is_read() -> None:
    body = rss(
        "<title>Good one</title><link>https://a.example/1</link><guid isPermaLink='false'>g1</guid>",
        "<title>Bad port</title><link>http://a.example:99999/x</link>",
        "<title>Bad bracket</title><link>http://[a.example/x</link>",
        "<title>Bad guid, no link</title><guid>http://[bad/x</guid>",
        f"<title>Huge link</title><link>https://a.example/{'x' * 5000}</link>",
        "<description>Only a summary, nothing to identify it.</description>",
        "<link>https://a.example/empty</link>",
        "<title>Good two</title><link>https://a.example:8443/2</link>",
    )
    read = read_feed("hostile", body, now=NOW)
    assert [item.title for item in read.items] == ["Good one", "Good two"]
    assert dict(read.skipped) == {SKIP_INVALID_LINK: 3, SKIP_LONG_LINK: 1, SKIP_NO_IDENTITY: 1, SKIP_EMPTY: 1}
    assert read.skipped_count == 6
    problems = read.problems() or ""
    assert problems.startswith("feed hostile was read with problems: 6 of 8 items skipped")
    assert f"{SKIP_INVALID_LINK}: 3" in problems
    assert parse_feed("hostile", body) == read.items
    assert read_feed("fine", rss("<title>x</title>")).problems() is None


def test_unexpected_errors_in_one_entry_skip_that_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    import ops_assets.news.feeds as feeds

    original = feeds.normalize_title

    def explode(title: str) -> str:
        if title == "boom":
            raise RuntimeError("unexpected")
        return original(title)

    monkeypatch.setattr(feeds, "normalize_title", explode)
    read = read_feed("x", rss("<title>boom</title>", "<title>fine</title>"))
    assert [item.title for item in read.items] == ["fine"]
    assert dict(read.skipped) == {"unreadable item (RuntimeError)": 1}


@pytest.mark.parametrize(
    "reference",
    ["&#0;", "&#x0;", "&#1;", "&#xD800;", "&#55296;", "&#xDFFF;", "&#x110000;", "&#99999999999;", "&#xFFFE;"],
)
def test_character_references_xml_forbids_are_dropped_not_fatal(reference: str) -> None:
    body = rss(
        f"<title>before {reference} after</title><link>https://a.example/{reference}x</link>"
        f"<description>one {reference} two</description><guid isPermaLink='false'>g{reference}1</guid>",
        "<title>neighbour</title>",
    )
    items = parse_feed("refs", body)
    assert [item.title for item in items] == ["before after", "neighbour"]
    assert items[0].summary == "one two"
    assert items[0].link == "https://a.example/x"
    assert items[0].event_uid == event_uid("g1", None, "")
    assert_clean(items[0])


def test_raw_control_bytes_nul_bidi_and_c1_are_removed_everywhere() -> None:
    body = rss(
        "<title>Sh\x00ares \u202erise\u202c now</title><link>https://a.example/\x00a\u2066b</link>"
        "<description>&lt;p&gt;x\x07y &amp;#0; &amp;#xD800; z\u2069&lt;/p&gt;</description>"
        "<guid isPermaLink='false'>id\x00-1</guid><pubDate>Fri, 20 Nov 2026 14:05:00 GMT</pubDate>"
    )
    [item] = parse_feed("ctl", body)
    assert item.title == "Shares rise now"
    assert item.link == "https://a.example/ab"
    assert item.summary == "xy \ufffd \ufffd z"  # escaped references in HTML decode to U+FFFD (HTML's rule)
    assert item.raw["id"] == "id-1"
    assert_clean(item)
    json.dumps(item.raw)


def test_feedparser_is_never_given_a_path_or_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import feedparser.api

    feed_file = tmp_path / "valid.xml"
    feed_file.write_bytes(render_feed("marketwire"))
    assert len(parse_feed("marketwire", feed_file.read_bytes())) == 10

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"feedparser tried to open {args[0]!r}")

    monkeypatch.setattr(feedparser.api, "open", no_open, raising=False)
    for body in (str(feed_file).encode(), b"/dev/zero", b"file:///dev/zero", b"http://127.0.0.1:9/feed.xml"):
        with pytest.raises(FeedParseError, match=r"not an RSS or Atom feed|could not be parsed"):
            parse_feed("path", body)
    with pytest.raises(TypeError):
        parse_feed("path", str(feed_file))  # type: ignore[arg-type]


def test_text_is_decoded_exactly_once() -> None:
    items = parse_feed(
        "once",
        rss(
            "<title>Why &lt;blink&gt; died</title><description>Why &amp;lt;blink&amp;gt; died</description>",
            "<title>&amp;amp;lt;b&amp;amp;gt;</title>",
            "<title>AT&amp;T &lt;b&gt;bold&lt;/b&gt; 3 &lt; 4</title>",
            "<title><![CDATA[R&D <i>spend</i>]]></title>"
            "<description><![CDATA[<p>R&amp;D <i>spend</i></p>]]></description>",
        ),
    )
    # RSS titles are plain text: literal "<" survives, and each item is exactly one level from the document.
    assert items[0].title == "Why <blink> died"
    assert items[0].summary == "Why <blink> died"  # the description is HTML: one HTML decode, no tag to strip
    assert items[1].title == "&amp;lt;b&amp;gt;"
    assert items[2].title == "AT&T <b>bold</b> 3 < 4"
    # CDATA in an RSS title is HTML-escaped text (see test_cdata_titles_are_html_decoded_once): tags go.
    assert items[3].title == "R&D spend"
    assert items[3].summary == "R&D spend"
    entries = parse_feed(
        "atom",
        atom(
            '<title type="html">Why &amp;lt;blink&amp;gt; died</title><id>a1</id>',
            '<title type="html">&amp;amp;lt;b&amp;amp;gt; &lt;b&gt;bold&lt;/b&gt;</title><id>a2</id>',
            '<title type="text">AT&amp;T &lt;b&gt;</title><id>a3</id>',
            '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">X <b>y</b></div></title><id>a4</id>',
        ),
    )
    assert [entry.title for entry in entries] == ["Why <blink> died", "&lt;b&gt; bold", "AT&T <b>", "X y"]


def test_future_and_out_of_range_dates() -> None:
    soon, later = NOW + timedelta(minutes=4), NOW + timedelta(days=2)
    body = rss(
        f"<title>soon</title><pubDate>{soon.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>",
        f"<title>later</title><pubDate>{later.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>",
        "<title>far</title><pubDate>9999-12-31T23:59:59-23:59</pubDate>",
        "<title>past</title><pubDate>Fri, 20 Nov 2026 14:05:00 GMT</pubDate>",
    )
    read = read_feed("dates", body, now=NOW)
    soon_item, later_item, far_item, past_item = read.items
    assert soon_item.published_at == soon  # within the tolerance (clock skew)
    assert later_item.published_at == NOW
    assert later_item.raw["published"] == later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert later_item.raw["future_published_at"] == later.isoformat()
    assert far_item.published_at == NOW  # past datetime's range: a far-future date
    assert far_item.raw["future_published_at"] == "9999-12-31T23:59:59-23:59"
    assert past_item.published_at == datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    assert "future_published_at" not in past_item.raw
    assert dict(read.repaired) == {FIXED_FUTURE_DATE: 2}
    # Without a poll time nothing is clamped, and the unrepresentable date is dropped (counted).
    unclamped = read_feed("dates", body)
    assert unclamped.items[1].published_at == later
    assert unclamped.items[2].published_at is None
    assert dict(unclamped.repaired) == {FIXED_BAD_DATE: 1}


def test_lengths_are_capped() -> None:
    huge_title, huge_summary = "T" * 1_000_000, "s " * 30_000
    [item] = parse_feed("big", rss(f"<title>{huge_title}</title><description>{huge_summary}</description>"))
    assert len(item.title) == TITLE_MAX_CHARS
    assert item.title.endswith("…")
    assert len(item.summary) <= SUMMARY_MAX_CHARS
    assert item.summary.endswith("…")
    assert all(len(text) <= RAW_MAX_CHARS for text in strings_of(item.raw))
    assert item.event_uid == event_uid(None, None, item.title)  # the stored title is the identity's title
    read = read_feed("big", rss(f"<title>{huge_title}</title><description>{huge_summary}</description>"))
    assert dict(read.repaired) == {FIXED_LONG_TITLE: 1, FIXED_LONG_SUMMARY: 1}


def test_summary_only_items_with_an_identity_get_a_title() -> None:
    long_sentence = "word " * 60
    read = read_feed(
        "summaries",
        rss(
            "<description>&lt;p&gt;Rates are on hold. More later.&lt;/p&gt;</description>"
            "<guid isPermaLink='false'>s1</guid>",
            "<description>Linked summary! Rest.</description><link>https://a.example/s2</link>",
            f"<description>{long_sentence}</description><guid isPermaLink='false'>s3</guid>",
            "<description>Nothing to identify this one by.</description>",
        ),
    )
    titles = [item.title for item in read.items]
    assert titles[:2] == ["Rates are on hold.", "Linked summary!"]
    assert len(titles[2]) <= 160
    assert titles[2].endswith("…")
    assert read.items[0].raw["title"] is None
    assert read.items[0].event_uid == event_uid("s1", None, "")
    assert dict(read.repaired) == {FIXED_TITLE_FROM_SUMMARY: 3}
    assert dict(read.skipped) == {SKIP_NO_IDENTITY: 1}
    assert title_from_summary("One. Two.") == "One."


def test_empty_feed_with_a_parser_warning_is_empty_not_an_error() -> None:
    # An undefined entity makes the strict XML parser complain; the feed is still a complete, empty feed.
    warned = rss(channel="<title>R&amp;D &nbsp; news</title><description>x &bogus; y</description>")
    read = read_feed("quiet", warned)
    assert read.items == []
    assert read.warning is not None
    assert read.problems() is None
    latin = (
        b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>caf\xe9</title></channel></rss>'
    )
    assert parse_feed("latin", latin) == []
    # Cut off before the root element closes, with nothing readable: that is a failure, not "empty".
    with pytest.raises(FeedParseError, match="cut off"):
        parse_feed("cut", warned[: warned.index(b"</channel>")])


def test_is_permalink_never_raises() -> None:
    assert is_permalink("https://a.example/x")
    assert is_permalink("http://[broken/x")  # looks like a URL: then checked (and rejected) as a link
    assert not is_permalink("urn:x:[1")
    assert not is_permalink("http:///nohost")
    with pytest.raises(ValueError, match=r"[Pp]ort"):
        normalize_link("http://a.example:99999/")


def test_the_classifier_reads_stored_text_as_it_is() -> None:
    # Stored titles are plain text: literal markup-like words and entities stay (no second decode).
    from ops_assets.news.classify import item_text

    assert item_text("Why <blink> died", "AT&amp;T  said so") == "Why <blink> died. AT&amp;T said so"


# ------------------------------------------------------------------------------------------- wide encodings

WIDE_FEED = (
    '<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>Bad &#xD800; ref, raw \x00 NUL and raw \ud800 surrogate</title>"
    "<guid isPermaLink='false'>w-bad</guid><description>x &#0; y</description></item>"
    "<item><title>Good item caf\u00e9 \u65e5\u672c \U0001f600</title><link>https://a.example/good</link>"
    "<guid isPermaLink='false'>w-good</guid></item>"
    "</channel></rss>"
)


@pytest.mark.parametrize(
    ("codec", "bom", "declared"),
    [
        ("utf-16-le", b"\xff\xfe", "UTF-16"),
        ("utf-16-be", b"\xfe\xff", "UTF-16"),
        ("utf-16-le", b"", "UTF-16LE"),  # no byte order mark: told by the NUL bytes
        ("utf-16-be", b"", "utf-16be"),
        ("utf-32-le", b"\xff\xfe\x00\x00", "UTF-32"),
        ("utf-32-be", b"\x00\x00\xfe\xff", "UTF-32"),
        ("utf-32-le", b"", "UTF-32"),
        ("utf-16-le", b"\xff\xfe", "iso-8859-1"),  # the byte order mark wins over a wrong declaration
    ],
)
def test_wide_encodings_lose_only_the_bad_item(codec: str, bom: bytes, declared: str) -> None:
    body = bom + WIDE_FEED.format(declared=declared).encode(codec, errors="surrogatepass")
    read = read_feed("wide", body, now=NOW)
    bad, good = read.items
    assert good.title == "Good item café 日本 😀"
    assert good.link == "https://a.example/good"
    assert good.event_uid == event_uid("w-good", None, "")
    assert bad.title == "Bad ref, raw NUL and raw \ufffd surrogate"  # an undecodable unit reads as U+FFFD
    assert bad.summary == "x y"
    for item in read.items:
        assert_clean(item)
    assert read.warning is None  # re-encoded as UTF-8, declared as such: nothing to complain about
    document = sanitize_document(body)
    assert document.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    document.decode("utf-8")  # strict: valid UTF-8


def test_a_declaration_naming_a_wide_encoding_on_ascii_bytes_is_corrected() -> None:
    # Bytes that cannot be UTF-16 but say they are: read as what they are, instead of losing the feed.
    declared_wide = rss("<title>caf\u00e9 one</title>", "<title>two</title>").replace(b"UTF-8", b"UTF-16")
    assert [item.title for item in parse_feed("liar", declared_wide)] == ["café one", "two"]
    latin = declared_wide.replace("é".encode(), b"\xe9")  # not UTF-8 either: the declaration is dropped
    assert sanitize_document(latin).startswith(b'<?xml version="1.0"?>')
    assert [item.title for item in parse_feed("liar", latin)] == ["café one", "two"]
    # Other declarations are left alone.
    assert sanitize_document(rss("<title>x</title>")) == rss("<title>x</title>")


# ------------------------------------------------------------------------------------------- CDATA titles


def test_cdata_titles_are_html_decoded_once() -> None:
    items = parse_feed(
        "cdata",
        rss(
            "<title><![CDATA[Apple&#39;s &amp; Nvidia&#8217;s]]></title>",
            "<title><![CDATA[R&D <b>spend</b> rises; 3 < 4 and AT&T >= peers]]></title>",
            "<title><![CDATA[&amp;lt;b&amp;gt; shown once]]></title>",
            "<title>Plain &amp;amp; <![CDATA[&eacute;t&eacute; <i>x</i>]]> mixed</title>",
            "<title><![CDATA[Why <blink died]]></title>",
            "<title>Why &lt;blink&gt; died</title>",
            "<title>&amp;amp;lt;b&amp;amp;gt;</title>",
            channel="<title><![CDATA[Channel &amp; co]]></title>",
        ),
    )
    assert [item.title for item in items] == [
        "Apple's & Nvidia’s",
        "R&D spend rises; 3 < 4 and AT&T >= peers",  # a "<" that starts no tag stays
        "&lt;b&gt; shown once",  # exactly one HTML decode
        "Plain &amp; été x mixed",  # outside CDATA: the single XML decode only
        "Why <blink died",
        "Why <blink> died",  # no CDATA: unchanged rules
        "&amp;lt;b&amp;gt;",
    ]


def test_cdata_unwrapping_touches_rss_item_titles_only() -> None:
    document = rss(
        "<title><![CDATA[A &amp; B]]></title><description><![CDATA[<p>A &amp; B</p>]]></description>"
        "<media:title><![CDATA[C &amp; D]]></media:title><!-- <title><![CDATA[E &amp; F]]></title> -->",
        channel="<title><![CDATA[Channel &amp; co]]></title>",
    )
    unwrapped = unwrap_title_cdata(document)
    assert b"<item><title>A &amp; B</title><description><![CDATA[<p>A &amp; B</p>]]></description>" in unwrapped
    assert b"<channel><title><![CDATA[Channel &amp; co]]></title>" in unwrapped
    assert b"<media:title><![CDATA[C &amp; D]]></media:title>" in unwrapped
    assert b"<!-- <title><![CDATA[E &amp; F]]></title> -->" in unwrapped
    # Atom says what its titles hold: left to the type attribute.
    entry = atom("<title><![CDATA[A &amp; B]]></title><id>a1</id>")
    assert unwrap_title_cdata(entry) == entry
    assert [e.title for e in parse_feed("atom", entry)] == ["A &amp; B"]
    # In a single-byte encoding, characters it lacks are written as character references.
    latin = rss("<title><![CDATA[caf\xe9 &#8217;s]]></title>").replace(b"UTF-8", b"ISO-8859-1")
    latin = latin.replace("é".encode(), b"\xe9")
    assert b"<title>caf\xe9 &#8217;s</title>" in unwrap_title_cdata(latin)
    assert [item.title for item in parse_feed("latin", latin)] == ["café ’s"]


# ------------------------------------------------------------------------------------------- per-feed cap


def test_entries_past_the_per_feed_cap_are_skipped_and_counted() -> None:
    assert MAX_ITEMS_PER_FEED == 500
    assert SKIP_OVER_CAP == "over the per-feed cap of 500"
    body = rss(*(f"<title>Story {n}</title><guid isPermaLink='false'>c{n}</guid>" for n in range(1_200)))
    read = read_feed("flood", body, now=NOW)
    assert [item.title for item in read.items] == [f"Story {n}" for n in range(500)]  # feed order: newest first
    assert dict(read.skipped) == {SKIP_OVER_CAP: 700}
    assert (read.problems() or "").startswith("feed flood was read with problems: 700 of 1200 items skipped")
    # Bad items inside the cap are skipped for their own reason; the cap counts entries, not stored items.
    small = read_feed(
        "small", rss("<title>a</title>", "<link>http://[x</link><title>b</title>", "<title>c</title>"), max_items=2
    )
    assert [item.title for item in small.items] == ["a"]
    assert dict(small.skipped) == {SKIP_INVALID_LINK: 1, skip_over_cap(2): 1}
    assert read_feed("exact", rss("<title>a</title>", "<title>b</title>"), max_items=2).skipped == {}
    with pytest.raises(ValueError, match="max_items"):
        read_feed("zero", rss("<title>a</title>"), max_items=0)


# ------------------------------------------------------------------------------------------- warnings and time


def test_a_feed_cut_off_halfway_reports_the_parser_warning() -> None:
    whole = rss(*(f"<title>Story {n}</title><guid isPermaLink='false'>t{n}</guid>" for n in range(6)))
    cut = whole[: whole.index(b"<title>Story 4</title>") + len(b"<title>Story 4</title><gu")]  # mid-item
    read = read_feed("cut", cut, now=NOW)
    assert [item.title for item in read.items] == ["Story 0", "Story 1", "Story 2", "Story 3", "Story 4"]
    assert read.warning is not None
    assert read.problems() is None
    assert read.report() == (
        f"feed cut was read, but the feed parser warned: {read.warning} (the items it could read were kept)"
    )
    # With skipped items too, the warning follows what was skipped.
    mixed = read_feed("mixed", cut.replace(b"<title>Story 1</title>", b"<link>http://[x</link>"))
    assert (mixed.report() or "").startswith("feed mixed was read with problems: 1 of ")
    assert (mixed.report() or "").endswith("(the items it could read were kept)")
    assert read_feed("fine", whole).report() is None


def test_a_naive_now_is_refused_not_taken_for_utc() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        read_feed("naive", rss("<title>x</title>"), now=NOW.replace(tzinfo=None))
    aware = datetime(2026, 11, 20, 12, 0, tzinfo=timezone(timedelta(hours=-5)))  # 17:00 UTC, as NOW
    later = (NOW + timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    [item] = parse_feed("offset", rss(f"<title>x</title><pubDate>{later}</pubDate>"), now=aware)
    assert item.published_at == NOW
