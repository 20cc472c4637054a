"""Turn the bytes of an RSS 2.0 or Atom feed into clean news items with a stable identity.

Pure functions (no network, no Dagster): the fetcher (``resources.rss.RssFetcher``) downloads the bytes,
:func:`parse_feed` turns them into :class:`NewsItem` rows and :func:`dedupe` drops repeats before the rows
are written to the raw events table, whose ``UNIQUE(event_uid)`` catches repeats across polls.

How an item's identity (``event_uid``) is chosen
-----------------------------------------------
The feed polls every minute, so the same story is seen again and again; it must get the same ``event_uid``
every time, or it is classified and counted twice.

1. **Opaque guid / Atom id** (``urn:...``, ``tag:...``, ``12345``, anything that is not an ``http(s)`` URL):
   the feed's own identity for the item. ``event_uid = sha256("guid:<guid>")``. It survives headline
   corrections and link changes. The guid is *not* qualified by the feed name: a wire story carried by two
   feeds under the same guid is one event. The flip side: two feeds that both number their items ``1, 2, 3``
   would collide — no configured feed does that today; add the feed name to such guids if one ever does.
2. **Permalink guid** (the guid/id is an ``http(s)`` URL — RSS ``isPermaLink``, WordPress ``?p=123`` guids,
   Atom ids that are the article URL): treated as a link, not as an identity, so rule 3 applies (with the
   entry's ``<link>``, or the guid itself when there is no link). Permalinks are where syndication and
   tracking parameters appear; as links they are normalised, so the same article syndicated with
   ``?utm_source=...`` by two feeds becomes one event. Cost: a corrected headline on such a feed is a new
   event.
3. **No guid**: ``event_uid = sha256("link:<normalize_link(link)>|title:<normalised title>")``; the title is
   casefolded with whitespace collapsed (Unicode NFKC). The title is included because some feeds reuse one
   link (a live blog, a section page) for many items.

Consequence: two feeds carrying the same story under *different* opaque guids are two events (nothing in
the feeds says they are the same); same-story matching across sources is left to later stages.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "cmpid",
        "ocid",
        "ncid",
        "sr_share",
        "spm",
    }
)
"""Query parameters (compared case-insensitively) that say how a reader arrived, not what the page is.
Every ``utm_*`` parameter is dropped too."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_WHITESPACE = re.compile(r"\s+")
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
    | {"blockquote", "section", "article", "header", "footer", "pre", "dd", "dt", "img"}
)
_SKIP_TAGS = frozenset({"script", "style", "noscript"})


@dataclass(frozen=True)
class NewsItem:
    """One feed entry, cleaned: plain-text title and summary, UTC publication time, stable ``event_uid``."""

    event_uid: str
    """sha256 hex identity (see the module docstring for the rules); the raw events table's unique key."""
    feed_name: str
    """The configured feed the item was read from (the first one, after :func:`dedupe`)."""
    title: str
    """Headline as plain text: markup removed, HTML entities decoded, whitespace collapsed."""
    link: str | None
    """The article URL exactly as the feed gave it (tracking parameters included); ``None`` when absent."""
    summary: str
    """Summary/description as plain text (``""`` when the feed has none)."""
    published_at: datetime | None
    """When the feed says the item was published (or last updated, when it gives no publication time), UTC."""
    raw: dict[str, Any] = field(compare=False)
    """JSON-serialisable subset of the entry as the feed wrote it: ``id``, ``title``, ``link``, ``published``,
    ``summary`` (``None`` where missing), kept for audits and re-parsing."""


class FeedParseError(ValueError):
    """The body is not a feed feedparser can read (an HTML error page, broken XML with no items...)."""

    def __init__(self, feed_name: str, message: str) -> None:
        super().__init__(message)
        self.feed_name = feed_name


# ------------------------------------------------------------------------------------------------- text


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _strip_markup_once(text: str) -> str:
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def plain_text(value: str | None) -> str:
    """Markup and HTML entities removed, whitespace collapsed.

    Runs twice because feeds often escape their HTML twice (``&amp;amp;``, ``&lt;b&gt;`` inside an already
    HTML-typed title); a second pass that changes nothing costs nothing.
    """
    if not value:
        return ""
    text = value
    for _ in range(2):
        cleaned = _strip_markup_once(text)
        if cleaned == text:
            break
        text = cleaned
    text = html.unescape(text) if "&" in text else text
    return _WHITESPACE.sub(" ", text).strip()


def normalize_title(title: str) -> str:
    """The title as compared for identity: Unicode NFKC, casefolded, whitespace collapsed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", title).casefold()).strip()


# ------------------------------------------------------------------------------------------------- identity


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in TRACKING_PARAMS


def normalize_link(url: str) -> str:
    """The URL as compared for identity: the same article reached through different campaigns compares equal.

    Lowercases scheme and host, drops the default port, the ``#fragment`` and tracking parameters
    (``utm_*``, ``fbclid``, ``gclid``... see :data:`TRACKING_PARAMS`), sorts the remaining query parameters
    and strips trailing slashes from the path. The path's case is kept (servers may treat it as significant).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host
    if parts.port is not None and _DEFAULT_PORTS.get(scheme) != parts.port:
        netloc = f"{host}:{parts.port}"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += f":{parts.password}"
        netloc = f"{userinfo}@{netloc}"
    if not parts.netloc:  # not an absolute URL: keep what was given (minus the fragment and tracking)
        netloc = parts.netloc
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def event_uid(feed_entry_guid: str | None, link: str | None, title: str) -> str:
    """Stable identity of a news item (sha256 hex).

    ``sha256("guid:<guid>")`` when a guid is given, else
    ``sha256("link:<normalize_link(link)>|title:<normalize_title(title)>")`` (an empty link part when there is
    no link). Callers decide which guids count: :func:`parse_feed` passes ``None`` for permalink guids (see
    the module docstring).
    """
    guid = (feed_entry_guid or "").strip()
    if guid:
        key = f"guid:{guid}"
    else:
        normalized = normalize_link(link) if link and link.strip() else ""
        key = f"link:{normalized}|title:{normalize_title(title)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_permalink(guid: str) -> bool:
    """Whether a guid/id is an ``http(s)`` URL (then it is identified by link + title, not as a guid)."""
    parts = urlsplit(guid.strip())
    return parts.scheme.lower() in {"http", "https"} and bool(parts.netloc)


def identity_guid(guid: str | None) -> str | None:
    """The guid to identify an entry by: ``None`` for a missing, blank or permalink guid."""
    if guid is None or not guid.strip() or is_permalink(guid):
        return None
    return guid.strip()


def dedupe(items: Iterable[NewsItem]) -> list[NewsItem]:
    """Items with a new ``event_uid`` only: the first occurrence wins and the order is kept."""
    seen: set[str] = set()
    out: list[NewsItem] = []
    for item in items:
        if item.event_uid not in seen:
            seen.add(item.event_uid)
            out.append(item)
    return out


# ------------------------------------------------------------------------------------------------- parsing


def _utc(parsed: time.struct_time | None) -> datetime | None:
    if parsed is None:
        return None
    # feedparser hands back the time already converted to UTC as a struct_time; timegm reads it as UTC.
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_feed(feed_name: str, body: bytes) -> list[NewsItem]:
    """Parse an RSS 2.0 / Atom document (bytes) into :class:`NewsItem` rows, in feed order (not deduplicated).

    Only the bytes are parsed: feedparser is never given a URL or a path, so it never fetches anything.
    A feed with problems but readable entries (truncated XML, a wrong encoding declaration) yields what it
    could read; a valid feed with no entries yields ``[]``. Raises :class:`FeedParseError` when the body is
    not a feed at all, or is so broken that no entry could be read. Entries with neither a title nor a link
    are skipped (nothing to classify, nothing to identify them by).
    """
    if not isinstance(body, bytes | bytearray):
        raise TypeError(f"parse_feed expects the feed's bytes, got {type(body).__name__}")
    parsed = feedparser.parse(bytes(body))
    entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    if not entries:
        if parsed.get("bozo"):
            problem = parsed.get("bozo_exception")
            raise FeedParseError(
                feed_name,
                f"feed {feed_name} could not be parsed and no items were readable "
                f"({type(problem).__name__}: {problem}); first bytes: {_preview(body)!r}",
            )
        if not version:
            raise FeedParseError(
                feed_name,
                f"feed {feed_name} answered something that is not an RSS or Atom feed; first bytes: {_preview(body)!r}",
            )
        return []

    items: list[NewsItem] = []
    for entry in entries:
        raw_title = _text(entry.get("title"))
        link = _text(entry.get("link"))
        guid = _text(entry.get("id"))
        title = plain_text(raw_title)
        if not title and not link:
            continue
        raw_summary = _text(entry.get("summary"))
        published_raw = _text(entry.get("published")) or _text(entry.get("updated"))
        published_at = _utc(entry.get("published_parsed") or entry.get("updated_parsed"))
        link_for_uid = link or (guid if guid and is_permalink(guid) else None)
        items.append(
            NewsItem(
                event_uid=event_uid(identity_guid(guid), link_for_uid, title),
                feed_name=feed_name,
                title=title,
                link=link or link_for_uid,
                summary=plain_text(raw_summary),
                published_at=published_at,
                raw={
                    "id": guid,
                    "title": raw_title,
                    "link": link,
                    "published": published_raw,
                    "summary": raw_summary,
                },
            )
        )
    return items


def _preview(body: bytes, limit: int = 60) -> str:
    text = " ".join(body[:400].decode("utf-8", errors="replace").split())
    return text[:limit] + ("..." if len(text) > limit else "")
