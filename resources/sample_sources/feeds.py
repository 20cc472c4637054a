"""Deterministic offline news feeds (RSS 2.0 and Atom) and a local feed server, for tests and demos.

Written by this project: every headline, company and URL is invented (``news.example.com`` and friends are
reserved documentation domains). The companies are the offline Alpha Vantage sample universe
(``resources.sample_sources.alpha_vantage.DEFAULT_TICKERS``, named as its OVERVIEW answers them) plus three
invented companies whose tickers are ordinary English words (:data:`WORD_TICKERS`: ``NOW``, ``IT``,
``ALL``), because a ticker extractor must not read every "it" or "all" as a ticker.

The three feeds (:data:`SAMPLE_FEEDS`):

- ``marketwire`` — RSS 2.0 with opaque guids (``isPermaLink="false"``). One item appears twice (the same
  guid: a feed bug that happens in the wild).
- ``streetdesk`` — Atom 1.0 with ``tag:`` ids. It syndicates one ``marketwire`` story under the same guid,
  and one ``tickertape`` story under an ``http`` id (the article URL, with other tracking parameters).
  Its titles are HTML-typed, with markup and entities to strip.
- ``tickertape`` — RSS 2.0 with permalink guids (the article URL, ``utm_*`` parameters included) and one
  item with no guid at all. One story is repeated with other tracking parameters, an upper-case host and
  different headline capitalisation and spacing; one item has no ``pubDate``.

Headlines mention tickers in every form an extractor meets: cashtags (``$AXQT``), exchange tags
(``(NASDAQ: BZLK)``, ``(NYSE:CRWQ)``), ``Company Name (TICKER)``, plain company names, several tickers in
one item, and word-like tickers used as words. Each :class:`SampleNewsItem` carries the ground truth
(``tickers`` really meant, ``sentiment``) for tests of later stages.

:class:`FeedSampleServer` serves the feeds at ``/feeds/<name>.xml`` with ``ETag``/``Last-Modified`` and
``304`` answers to conditional requests, scripted faults (:meth:`FeedSampleServer.inject`), a request log,
and :meth:`FeedSampleServer.publish` to add an item to a live feed.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from resources.sample_sources.alpha_vantage import DEFAULT_TICKERS
from resources.sample_sources.local_http import LocalHttpServer, QuietHTTPServer

Sentiment = Literal["positive", "negative", "neutral"]
FeedFormat = Literal["rss", "atom"]


def universe_company_name(symbol: str) -> str:
    """The company name the offline Alpha Vantage sample gives ``symbol`` (its OVERVIEW ``Name``).

    Mirrors the rule in ``resources.sample_sources.alpha_vantage`` (which builds the name inside its ticker
    model); a unit test checks the two agree.
    """
    base = symbol.split("-")[0]
    name = f"{base.title()} {('Holdings', 'Industries', 'Systems', 'Group')[zlib.crc32(base.encode()) % 4]} Inc"
    if "-" in symbol:
        name += f" Class {symbol.split('-')[1]}"
    return name


WORD_TICKERS: dict[str, str] = {
    "NOW": "Nowlane Software Inc",
    "IT": "Iterant Research Group Inc",
    "ALL": "Alluvia Insurance Group Inc",
}
"""Invented companies whose tickers are English words; they are *not* in the Alpha Vantage sample universe."""

COMPANY_NAMES: dict[str, str] = {symbol: universe_company_name(symbol) for symbol in DEFAULT_TICKERS} | WORD_TICKERS
"""Ticker -> company name for every company the sample news mentions (``ZZDL``, delisted, has no OVERVIEW
in the Alpha Vantage sample; its name follows the same rule)."""


@dataclass(frozen=True)
class SampleNewsItem:
    """One invented news item, with the ground truth a later stage should find in it."""

    title: str
    """As written into the feed (may hold HTML for the Atom feed, whose titles are ``type="html"``)."""
    summary: str
    """HTML, as feeds write descriptions."""
    link: str | None
    guid: str | None
    """RSS ``<guid>`` / Atom ``<id>``; ``None``: no guid element (RSS only)."""
    guid_is_permalink: bool
    """RSS only: ``isPermaLink`` (true when the guid is the article URL)."""
    published: datetime | None
    tickers: tuple[str, ...]
    """Tickers the item is really about (word-like tickers used as words are not listed)."""
    sentiment: Sentiment


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


_ET = timezone(timedelta(hours=-5))
_N = COMPANY_NAMES
_HWMZ_RECALL_TITLE = "Hwmz Industries recalls 40,000 units; $HWMZ falls 6%"
_CRWQ_DVNX_GUID = "urn:sample-news:marketwire:0003"

_MARKETWIRE: tuple[SampleNewsItem, ...] = (
    SampleNewsItem(
        title="$AXQT jumps 8% after Axqt Holdings raises full-year guidance",
        summary="<p>Axqt Holdings Inc (AXQT) lifted its revenue outlook for the year, citing strong orders.</p>",
        link="https://wire.example.com/news/2026/11/20/axqt-raises-guidance",
        guid="urn:sample-news:marketwire:0001",
        guid_is_permalink=False,
        published=_at(20, 14, 5),
        tickers=("AXQT",),
        sentiment="positive",
    ),
    SampleNewsItem(
        title="Bzlk Industries (NASDAQ: BZLK) misses third-quarter estimates, shares slide",
        summary="<p>Bzlk Industries reported earnings below consensus and cut its margin forecast.</p>",
        link="https://wire.example.com/news/2026/11/20/bzlk-misses-estimates",
        guid="urn:sample-news:marketwire:0002",
        guid_is_permalink=False,
        published=_at(20, 13, 40),
        tickers=("BZLK",),
        sentiment="negative",
    ),
    SampleNewsItem(
        title="Crwq Holdings (NYSE:CRWQ) to acquire Dvnx Industries (NASDAQ: DVNX) in $2.1 billion deal",
        summary=(
            "<p>The all-cash offer values <b>Dvnx Industries</b> at a 32% premium; both boards approved the deal.</p>"
        ),
        link="https://wire.example.com/news/2026/11/20/crwq-to-acquire-dvnx",
        guid=_CRWQ_DVNX_GUID,
        guid_is_permalink=False,
        published=_at(20, 12, 0),
        tickers=("CRWQ", "DVNX"),
        sentiment="positive",
    ),
    SampleNewsItem(
        title="Eqzt Group Inc. (EQZT) schedules third-quarter earnings call",
        summary="<p>Eqzt Group will discuss its results on a conference call on December 3.</p>",
        link="https://wire.example.com/news/2026/11/19/eqzt-earnings-call",
        guid="urn:sample-news:marketwire:0004",
        guid_is_permalink=False,
        published=_at(19, 21, 15),
        tickers=("EQZT",),
        sentiment="neutral",
    ),
    SampleNewsItem(
        title="Fjrx Group cuts 1,200 jobs as demand weakens; $FJRX down 5% premarket",
        summary="<p>The layoffs follow two quarters of falling orders at Fjrx Group.</p>",
        link="https://wire.example.com/news/2026/11/19/fjrx-job-cuts",
        guid="urn:sample-news:marketwire:0005",
        guid_is_permalink=False,
        published=_at(19, 12, 30),
        tickers=("FJRX",),
        sentiment="negative",
    ),
    SampleNewsItem(
        title="It is now all about rates: markets wait on the Fed",
        summary="<p>Traders said it was all quiet for now, with volumes thin ahead of the decision.</p>",
        link="https://wire.example.com/news/2026/11/19/markets-wait-on-fed",
        guid="urn:sample-news:marketwire:0006",
        guid_is_permalink=False,
        published=_at(19, 11, 0),
        tickers=(),
        sentiment="neutral",
    ),
    SampleNewsItem(
        title="Nowlane Software (NYSE: NOW) beats on subscriptions; $GHXV, $HWMZ rally in sympathy",
        summary=(f"<p>{_N['NOW']} grew subscription revenue 24%. Peers {_N['GHXV']} and {_N['HWMZ']} also rose.</p>"),
        link="https://wire.example.com/news/2026/11/18/nowlane-beats",
        guid="urn:sample-news:marketwire:0007",
        guid_is_permalink=False,
        published=_at(18, 21, 30),
        tickers=("NOW", "GHXV", "HWMZ"),
        sentiment="positive",
    ),
    SampleNewsItem(
        title="Kilo Group (NYSE: KILO-B) holds steady as bullion trades near $78,000 a kilo",
        summary="<p>Kilo Group Inc Class B shares were flat; analysts see all-in costs rising next year.</p>",
        link="https://wire.example.com/news/2026/11/18/kilo-steady",
        guid="urn:sample-news:marketwire:0008",
        guid_is_permalink=False,
        published=_at(18, 15, 45),
        tickers=("KILO-B",),
        sentiment="neutral",
    ),
    SampleNewsItem(
        title=f"{_N['ZZDL']} (ZZDL) shares suspended after auditor resigns",
        summary="<p>Trading in ZZDL was halted; the company said it would seek a new auditor.</p>",
        link="https://wire.example.com/news/2026/11/17/zzdl-suspended",
        guid="urn:sample-news:marketwire:0009",
        guid_is_permalink=False,
        published=_at(17, 16, 20),
        tickers=("ZZDL",),
        sentiment="negative",
    ),
)
# The wire repeats its top story later in the same document (same guid, same everything).
_MARKETWIRE = (*_MARKETWIRE, _MARKETWIRE[0])

_STREETDESK: tuple[SampleNewsItem, ...] = (
    SampleNewsItem(
        title="Ghxv Industries &lt;b&gt;beats&lt;/b&gt; estimates as S&amp;amp;P 500 hits a record",
        summary="<p>Ghxv Industries posted record revenue &amp; raised its dividend.</p>",
        link="https://streetdesk.example.org/articles/ghxv-beats",
        guid="tag:streetdesk.example.org,2026:article/5101",
        guid_is_permalink=False,
        published=_at(20, 15, 10),
        tickers=("GHXV",),
        sentiment="positive",
    ),
    # Syndicated from marketwire under the wire's own guid (its own link, though).
    replace(
        _MARKETWIRE[2],
        link="https://streetdesk.example.org/articles/crwq-dvnx-deal",
        published=_at(20, 12, 3),
    ),
    SampleNewsItem(
        title="What IT spending cuts mean for Iterant Research (NYSE: IT)",
        summary="<p>Corporate IT budgets are shrinking, and Iterant Research Group is exposed.</p>",
        link="https://streetdesk.example.org/articles/iterant-it-spending",
        guid="tag:streetdesk.example.org,2026:article/5102",
        guid_is_permalink=False,
        published=_at(19, 18, 0),
        tickers=("IT",),
        sentiment="negative",
    ),
    SampleNewsItem(
        title="Alluvia Insurance (NYSE: ALL) rises after catastrophe losses come in below all estimates",
        summary="<p>Alluvia Insurance Group reported lower storm claims than analysts expected.</p>",
        link="https://streetdesk.example.org/articles/alluvia-losses",
        guid="tag:streetdesk.example.org,2026:article/5103",
        guid_is_permalink=False,
        published=_at(19, 14, 25),
        tickers=("ALL",),
        sentiment="positive",
    ),
    # Syndicated from tickertape: the id is the article URL (a permalink), with its own tracking parameters.
    SampleNewsItem(
        title=_HWMZ_RECALL_TITLE,
        summary="<p>The recall covers two product lines sold since March.</p>",
        link="https://news.example.com/markets/hwmz-recall?ref=home&utm_source=streetdesk&utm_medium=atom",
        guid="https://news.example.com/markets/hwmz-recall?ref=home",
        guid_is_permalink=True,
        published=_at(18, 10, 30),
        tickers=("HWMZ",),
        sentiment="negative",
    ),
    SampleNewsItem(
        title="Dvnx Industries names new chief financial officer",
        summary="<p>The appointment takes effect in January.</p>",
        link="https://streetdesk.example.org/articles/dvnx-new-cfo",
        guid="tag:streetdesk.example.org,2026:article/5104",
        guid_is_permalink=False,
        published=_at(17, 13, 0),
        tickers=("DVNX",),
        sentiment="neutral",
    ),
    # The afternoon of 2026-11-20 (UTC) carries enough news on two tickers for the sample day to trade: three
    # positive AXQT stories within four hours (with the wire's and the tape's) and three negative FJRX ones. All
    # are older than the breaking items of FeedSampleServer.publish (17:00 on), whose Last-Modified must move.
    SampleNewsItem(
        title="Fjrx Group cut to &lt;i&gt;sell&lt;/i&gt;; shares hit a 52-week low",
        summary="<p>A credit downgrade followed the lawsuit; Fjrx Group Inc shares fell for a third day.</p>",
        link="https://streetdesk.example.org/articles/fjrx-downgrade",
        guid="tag:streetdesk.example.org,2026:article/5108",
        guid_is_permalink=False,
        published=_at(20, 16, 55),
        tickers=("FJRX",),
        sentiment="negative",
    ),
    SampleNewsItem(
        title="$FJRX sinks as customers sue over failed product launch",
        summary="<p>The lawsuit seeks damages for faulty equipment and missed deliveries.</p>",
        link="https://streetdesk.example.org/articles/fjrx-lawsuit",
        guid="tag:streetdesk.example.org,2026:article/5107",
        guid_is_permalink=False,
        published=_at(20, 16, 30),
        tickers=("FJRX",),
        sentiment="negative",
    ),
    SampleNewsItem(
        title="Analysts upgrade Axqt Holdings (NASDAQ: AXQT) to buy on strong demand",
        summary="<p>Two brokers raised their targets, citing record orders and improving margins.</p>",
        link="https://streetdesk.example.org/articles/axqt-upgrade",
        guid="tag:streetdesk.example.org,2026:article/5106",
        guid_is_permalink=False,
        published=_at(20, 15, 20),
        tickers=("AXQT",),
        sentiment="positive",
    ),
    SampleNewsItem(
        title="Fjrx Group (NYSE: FJRX) warns of a weak fourth quarter; shares fall",
        summary="<p>The company blamed lost contracts and higher costs.</p>",
        link="https://streetdesk.example.org/articles/fjrx-warning",
        guid="tag:streetdesk.example.org,2026:article/5105",
        guid_is_permalink=False,
        published=_at(20, 14, 50),
        tickers=("FJRX",),
        sentiment="negative",
    ),
)

_TICKERTAPE: tuple[SampleNewsItem, ...] = (
    SampleNewsItem(
        title=_HWMZ_RECALL_TITLE,
        summary="<p>Hwmz Industries Inc (HWMZ) is recalling 40,000 units over a wiring fault.</p>",
        link="https://news.example.com/markets/hwmz-recall?utm_source=tickertape&utm_medium=rss&ref=home",
        guid="https://news.example.com/markets/hwmz-recall?utm_source=tickertape&utm_medium=rss&ref=home",
        guid_is_permalink=True,
        published=_at(18, 10, 32),
        tickers=("HWMZ",),
        sentiment="negative",
    ),
    SampleNewsItem(
        title="Axqt, Bzlk and Crwq lead small-cap gainers",
        summary="<p>Axqt Holdings, Bzlk Industries and Crwq Holdings each gained more than 4%.</p>",
        link="https://news.example.com/markets/small-cap-gainers?utm_source=tickertape&utm_medium=rss",
        guid="https://news.example.com/markets/small-cap-gainers?utm_source=tickertape&utm_medium=rss",
        guid_is_permalink=True,
        published=_at(20, 16, 5),
        tickers=("AXQT", "BZLK", "CRWQ"),
        sentiment="positive",
    ),
    SampleNewsItem(
        title="Markets now price in all three rate cuts; IT services stocks lag",
        summary="<p>Futures imply three cuts next year. It was a weak day for software and IT services.</p>",
        link="https://news.example.com/markets/rate-cuts-priced?utm_campaign=morning-brief",
        guid=None,
        guid_is_permalink=False,
        published=_at(20, 9, 0),
        tickers=(),
        sentiment="neutral",
    ),
    SampleNewsItem(
        title="$EQZT: Eqzt Group reaffirms quarterly dividend",
        summary="<p>The board kept the dividend unchanged.</p>",
        link="https://news.example.com/markets/eqzt-dividend?utm_source=tickertape",
        guid="https://news.example.com/markets/eqzt-dividend?utm_source=tickertape",
        guid_is_permalink=True,
        published=None,
        tickers=("EQZT",),
        sentiment="neutral",
    ),
    # The recall story again, as reposted through a social share: other tracking parameters, an upper-case
    # host, a trailing slash, a fragment, and the headline re-cased with a double space.
    SampleNewsItem(
        title="Hwmz Industries Recalls 40,000 Units;  $HWMZ Falls 6%",
        summary="<p>Hwmz Industries Inc (HWMZ) is recalling 40,000 units over a wiring fault.</p>",
        link="https://NEWS.Example.com/markets/hwmz-recall/?ref=home&fbclid=IwAR0sample#comments",
        guid="https://NEWS.Example.com/markets/hwmz-recall/?ref=home&fbclid=IwAR0sample#comments",
        guid_is_permalink=True,
        published=_at(18, 11, 0),
        tickers=("HWMZ",),
        sentiment="negative",
    ),
)


@dataclass(frozen=True)
class SampleFeed:
    """A feed's channel metadata and format."""

    name: str
    format: FeedFormat
    title: str
    site: str


FEEDS: dict[str, SampleFeed] = {
    "marketwire": SampleFeed("marketwire", "rss", "Sample Market Wire", "https://wire.example.com/"),
    "streetdesk": SampleFeed("streetdesk", "atom", "Sample Street Desk", "https://streetdesk.example.org/"),
    "tickertape": SampleFeed("tickertape", "rss", "Sample Ticker Tape", "https://news.example.com/"),
}
SAMPLE_FEEDS: dict[str, str] = {name: f"/feeds/{name}.xml" for name in FEEDS}
"""Feed name -> path on :class:`FeedSampleServer`."""
MALFORMED_PATH = "/feeds/malformed.xml"
SAMPLE_ITEMS: dict[str, tuple[SampleNewsItem, ...]] = {
    "marketwire": _MARKETWIRE,
    "streetdesk": _STREETDESK,
    "tickertape": _TICKERTAPE,
}
"""Each feed's items, in document order (duplicates included)."""

MALFORMED_FEED: bytes = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>Bad Gateway</h1><p>The upstream feed service is temporarily unavailable & {broken</p>\n"
)
"""What a feed URL sometimes answers instead of a feed: a truncated HTML error page (with HTTP 200)."""

_EPOCH = _at(1, 0, 0)


def feed_last_modified(items: tuple[SampleNewsItem, ...] | list[SampleNewsItem]) -> datetime:
    """The newest item's publication time (a fixed date for a feed with no dated item)."""
    dated = [item.published for item in items if item.published is not None]
    return max(dated, default=_EPOCH)


def render_feed(name: str, items: tuple[SampleNewsItem, ...] | list[SampleNewsItem] | None = None) -> bytes:
    """The feed document (UTF-8 bytes) for ``name``: its sample items, or ``items`` when given."""
    feed = FEEDS[name]
    entries = SAMPLE_ITEMS[name] if items is None else tuple(items)
    updated = feed_last_modified(entries)
    if feed.format == "rss":
        return _render_rss(feed, entries, updated)
    return _render_atom(feed, entries, updated)


def _rss_date(when: datetime, index: int) -> str:
    # Real feeds mix zones: alternate between GMT and US Eastern offsets (the same instant either way).
    return format_datetime(when if index % 2 == 0 else when.astimezone(_ET), usegmt=index % 2 == 0)


def _render_rss(feed: SampleFeed, items: tuple[SampleNewsItem, ...], updated: datetime) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"<title>{escape(feed.title)}</title>",
        f"<link>{escape(feed.site)}</link>",
        f"<description>{escape(feed.title)}: invented financial news for offline tests.</description>",
        "<language>en-us</language>",
        f"<lastBuildDate>{format_datetime(updated, usegmt=True)}</lastBuildDate>",
    ]
    for index, item in enumerate(items):
        lines.append("<item>")
        lines.append(f"<title>{escape(item.title)}</title>")
        if item.link:
            lines.append(f"<link>{escape(item.link)}</link>")
        if item.guid:
            permalink = "true" if item.guid_is_permalink else "false"
            lines.append(f"<guid isPermaLink={quoteattr(permalink)}>{escape(item.guid)}</guid>")
        if item.published is not None:
            lines.append(f"<pubDate>{_rss_date(item.published, index)}</pubDate>")
        # Alternate CDATA and escaped HTML: feeds use both for descriptions.
        if index % 2 == 0:
            lines.append(f"<description><![CDATA[{item.summary}]]></description>")
        else:
            lines.append(f"<description>{escape(item.summary)}</description>")
        lines.append("</item>")
    lines += ["</channel>", "</rss>", ""]
    return "\n".join(lines).encode("utf-8")


def _render_atom(feed: SampleFeed, items: tuple[SampleNewsItem, ...], updated: datetime) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(feed.title)}</title>",
        f"<id>tag:{urlsplit(feed.site).hostname},2026:feed</id>",
        f'<link rel="alternate" href={quoteattr(feed.site)}/>',
        f"<updated>{updated.isoformat().replace('+00:00', 'Z')}</updated>",
    ]
    for item in items:
        when = item.published or updated
        lines.append("<entry>")
        # type="html": the title is HTML, escaped once more for XML (so "&lt;b&gt;" in the sample becomes
        # "&amp;lt;b&amp;gt;" in the document, as double-escaping publishers write it).
        lines.append(f'<title type="html">{escape(item.title)}</title>')
        lines.append(f"<id>{escape(item.guid or item.link or '')}</id>")
        if item.link:
            lines.append(f'<link rel="alternate" type="text/html" href={quoteattr(item.link)}/>')
        lines.append(f"<published>{when.astimezone(timezone(timedelta(hours=1))).isoformat()}</published>")
        lines.append(f"<updated>{when.isoformat().replace('+00:00', 'Z')}</updated>")
        lines.append(f'<summary type="html">{escape(item.summary)}</summary>')
        lines.append("</entry>")
    lines += ["</feed>", ""]
    return "\n".join(lines).encode("utf-8")


def make_breaking_item(name: str, number: int) -> SampleNewsItem:
    """A new deterministic item for feed ``name`` (``number`` 1, 2, ...), newer than every sample item."""
    symbol = DEFAULT_TICKERS[(number - 1) % (len(DEFAULT_TICKERS) - 1)]  # never the delisted ZZDL
    company = COMPANY_NAMES[symbol]
    slug = f"breaking-{symbol.lower()}-{number}"
    feed = FEEDS[name]
    link = f"{feed.site}breaking/{slug}"
    if feed.format == "atom":
        guid: str | None = f"tag:{urlsplit(feed.site).hostname},2026:breaking/{number}"
        permalink = False
    elif name == "marketwire":
        guid, permalink = f"urn:sample-news:marketwire:breaking-{number:04d}", False
    else:
        guid, permalink = link, True
    return SampleNewsItem(
        title=f"Breaking: {company} (NASDAQ: {symbol}) announces ${number * 100} million buyback",
        summary=f"<p>{company} will repurchase shares over the next twelve months.</p>",
        link=link,
        guid=guid,
        guid_is_permalink=permalink,
        published=_at(20, 17, 0) + timedelta(minutes=number),
        tickers=(symbol,),
        sentiment="positive",
    )


# ------------------------------------------------------------------------------------------------- server


@dataclass(frozen=True)
class RecordedFeedRequest:
    """One request as the server saw it."""

    path: str
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    time: float
    """``time.monotonic()`` when the request arrived."""


@dataclass
class _Fault:
    path: str
    status: int
    body: bytes
    remaining: int
    delay_seconds: float


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections close after a minute
    server: QuietHTTPServer

    def do_GET(self) -> None:
        answer = self.server.app.answer(
            urlsplit(self.path).path,
            self.headers.get("If-None-Match"),
            self.headers.get("If-Modified-Since"),
            self.headers.get("User-Agent"),
        )
        if answer.delay_seconds > 0:
            time.sleep(answer.delay_seconds)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            if answer.status != 304:
                self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if answer.status != 304:
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        return


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


class FeedSampleServer(LocalHttpServer):
    """Local feed server over the sample feeds (a context manager); each instance has its own copy to publish to.

    ``url_for(name)`` gives a feed's URL (``"malformed"`` too). Conditional requests follow RFC 9110:
    ``If-None-Match`` (compared weakly against the current ETag, ``*`` matches) decides when present;
    otherwise ``If-Modified-Since`` answers 304 when the feed has not changed since that time.
    """

    handler = _Handler
    thread_name = "feed-sample"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, list[SampleNewsItem]] = {name: list(items) for name, items in SAMPLE_ITEMS.items()}
        self._published: dict[str, int] = dict.fromkeys(FEEDS, 0)
        self._requests: list[RecordedFeedRequest] = []
        self._faults: list[_Fault] = []

    # ------------------------------------------------------------------------------------- lifecycle

    def url_for(self, name: str) -> str:
        """The URL of feed ``name`` (or ``"malformed"``) on this server."""
        if name != "malformed" and name not in SAMPLE_FEEDS:
            raise KeyError(f"unknown sample feed {name!r}; known: {', '.join(SAMPLE_FEEDS)}, malformed")
        path = MALFORMED_PATH if name == "malformed" else SAMPLE_FEEDS[name]
        return self.base_url + path

    # ------------------------------------------------------------------------------------- test helpers

    @property
    def requests(self) -> list[RecordedFeedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def items(self, name: str) -> list[SampleNewsItem]:
        """Feed ``name``'s current items, in document order."""
        with self._lock:
            return list(self._items[name])

    def body(self, name: str) -> bytes:
        """Feed ``name``'s current document."""
        with self._lock:
            return render_feed(name, self._items[name])

    def publish(self, name: str, item: SampleNewsItem | None = None) -> SampleNewsItem:
        """Put a new item at the top of feed ``name`` (a deterministic breaking item unless given); returns it.

        The document changes, so its ETag does; its Last-Modified moves to the item's time when that is newer.
        """
        with self._lock:
            if item is None:
                self._published[name] += 1
                item = make_breaking_item(name, self._published[name])
            self._items[name].insert(0, item)
            return item

    def inject(
        self,
        path: str,
        status: int = 500,
        body: bytes = b"",
        times: int = 1,
        delay_seconds: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests for ``path`` (``/feeds/x.xml``, or a feed name) with ``status`` and
        ``body`` after ``delay_seconds`` (a delay beyond the client's timeout makes it time out). Faults are
        consumed in the order injected."""
        if not path.startswith("/"):
            path = SAMPLE_FEEDS.get(path, f"/feeds/{path}.xml")
        with self._lock:
            self._faults.append(_Fault(path, status, body, times, delay_seconds))

    def reset(self) -> None:
        """Forget recorded requests, pending faults and published items."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._items = {name: list(items) for name, items in SAMPLE_ITEMS.items()}
            self._published = dict.fromkeys(FEEDS, 0)

    # ------------------------------------------------------------------------------------- answering

    def answer(
        self, path: str, if_none_match: str | None, if_modified_since: str | None, user_agent: str | None = None
    ) -> _Answer:
        with self._lock:
            self._requests.append(
                RecordedFeedRequest(path, if_none_match, if_modified_since, user_agent, time.monotonic())
            )
            for fault in self._faults:
                if fault.path == path and fault.remaining > 0:
                    fault.remaining -= 1
                    self._faults = [f for f in self._faults if f.remaining > 0]
                    return _Answer(fault.status, fault.body, "text/html", delay_seconds=fault.delay_seconds)
            if path == MALFORMED_PATH:
                return _Answer(200, MALFORMED_FEED, "text/html; charset=utf-8")
            name = next((n for n, p in SAMPLE_FEEDS.items() if p == path), None)
            if name is None:
                return _Answer(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
            items = self._items[name]
            body = render_feed(name, items)
            modified = feed_last_modified(items)
        etag = _etag(body)
        headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True), "Cache-Control": "max-age=60"}
        content_type = "application/atom+xml; charset=utf-8" if FEEDS[name].format == "atom" else _Answer.content_type
        if _not_modified(etag, modified, if_none_match, if_modified_since):
            return _Answer(304, b"", content_type, headers)
        return _Answer(200, body, content_type, headers)


def _not_modified(etag: str, modified: datetime, if_none_match: str | None, if_modified_since: str | None) -> bool:
    if if_none_match is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in wanted or etag in wanted
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return modified <= since
    return False


def shared_feed_server() -> FeedSampleServer:
    """The process-wide sample feed server, started on first use (the offline default of ``make run``)."""
    return FeedSampleServer.shared()
