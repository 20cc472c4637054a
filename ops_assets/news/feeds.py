"""Turn the bytes of an RSS 2.0 or Atom feed into clean news items with a stable identity.

Pure functions (no network, no Dagster): the fetcher (``resources.rss.RssFetcher``) downloads the bytes,
:func:`read_feed` (or :func:`parse_feed`, its items only) turns them into :class:`NewsItem` rows and
:func:`dedupe` drops repeats before the rows are written to the raw events table, whose ``UNIQUE(event_uid)``
catches repeats across polls.

A feed on a bad day
-------------------
Feeds are written by strangers, so nothing in one may stop the poll:

- **The bytes are only ever parsed.** feedparser opens anything that looks like a path or URL (a body that
  is the text ``/dev/zero`` would be read until memory runs out), so it is handed an ``io.BytesIO``, which it
  reads and never opens. Before that, control characters and character references to characters XML forbids
  (``&#0;``, ``&#xD800;``, ``&#x110000;``), which make feedparser itself raise, are removed
  (:func:`sanitize_document`): from the bytes of a document in an ASCII-compatible encoding, and from the text
  of a UTF-16/32 document (told by its byte order mark or the NUL bytes of its first character), which is then
  handed on re-encoded as UTF-8 with its XML declaration saying so. A declaration that names UTF-16/32 on
  bytes that cannot be either is corrected too.
- **At most** :data:`MAX_ITEMS_PER_FEED` **entries per document** are read, in feed order (feeds list the newest
  first); the rest are skipped and counted (reason ``over the per-feed cap of 500``). Every poll writes in one
  transaction, and the fetcher's 10 MB body limit alone would allow ~120,000 entries a minute.
- **One bad item never costs the feed.** Each entry is read on its own; an entry that cannot be stored
  faithfully is *skipped* and counted by reason in :attr:`FeedRead.skipped` (its link is not a URL — a bad port,
  an unbalanced ``[`` —, it has no title and no summary, or it has a summary but no title, link or guid);
  anything unexpected while reading one entry skips that entry too (reason ``unreadable item (<error>)``).
- **Defects that can be repaired are repaired and counted** in :attr:`FeedRead.repaired`: a publication time
  more than :data:`FUTURE_TOLERANCE` after the poll's ``now`` (timezone-aware; a naive ``now`` is refused with
  ``ValueError`` rather than guessed to be UTC) is stored as ``now`` (the feed's own value stays
  in ``raw["published"]`` and the parsed one in ``raw["future_published_at"]``; a date past the year 9999
  counts as such a future date); a date that cannot be represented otherwise is dropped (``None``); titles
  longer than :data:`TITLE_MAX_CHARS` and summaries longer than :data:`SUMMARY_MAX_CHARS` are cut with an
  ellipsis; an item with a summary and an identity (guid or link) but no title gets the summary's first
  sentence as its title (at most :data:`DERIVED_TITLE_MAX_CHARS` characters; ``raw["title"]`` stays ``None``).
- **Every stored string is cleaned** by :func:`ops_assets.news.text.clean_text` (NUL and other control
  characters, lone surrogates, bidi overrides): title, summary, link and every string of ``raw`` (each capped
  at :data:`RAW_MAX_CHARS`).
- **Empty is empty.** A document feedparser recognises as a feed but that has no entries is ``[]`` even when
  the parser reported a problem (an undefined entity, an encoding mismatch) — unless the document is cut off
  before its root element closes. Only a body that is not a feed at all, or a broken one with no readable
  entry, raises :class:`FeedParseError`.
- **Warnings are kept.** The parser's complaint about a document it could still read (cut off halfway, a wrong
  encoding declaration, an undefined entity) is :attr:`FeedRead.warning`; :meth:`FeedRead.report` adds it to
  what was skipped and repaired, and the ingest stores that in ``feed_state.last_error`` (the feed stays
  ``ok``), so a feed cut off halfway does not look clean.

Text is decoded exactly once
----------------------------
feedparser already undoes the XML escaping, so its values are the text (or, for HTML content, the markup)
the publisher wrote (its HTML sanitiser and relative-URI rewriting are switched off: they re-serialise text
they guess is HTML, ``AT&T`` becoming ``AT&amp;T``). Markup is removed, and HTML entities decoded, **only
where the content is HTML**: Atom text constructs declared ``type="html"``/``"xhtml"`` and RSS descriptions
(HTML by RSS convention). RSS titles are plain text whatever they contain (feedparser's guess that a title
"looks like HTML" is ignored), so
``<title>Why &lt;blink&gt; died</title>`` stays ``Why <blink> died``, and a publisher that escaped its text
once too often gets exactly one level removed (``&amp;amp;lt;b&amp;amp;gt;`` in the document becomes
``&amp;lt;b&amp;gt;``, not ``<b>``).

The one exception is **CDATA in an RSS item's title**: publishers put HTML-escaped text there
(``<title><![CDATA[Apple&#39;s &amp; Nvidia&#8217;s]]></title>``), which XML does not decode at all. Before
parsing, :func:`unwrap_title_cdata` reads each such section as HTML once (character references decoded, tags
removed, a ``<`` that starts no tag kept) and writes it back as XML-escaped text, so the title is
``Apple's & Nvidia’s``, as the publisher meant, and ``<![CDATA[R&D <i>spend</i>]]>`` is ``R&D spend``. Text of
the same title outside CDATA keeps its single XML decode. Note for stored items: a CDATA title stored before
this rule kept its escapes (``Apple&#39;s``); for an item identified by link and title (no guid, or a
permalink guid: its title is part of its ``event_uid``) the uid therefore changes once, and the item is stored
(and classified) once more.

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
3. **No guid**: ``event_uid = sha256("link:<normalize_link(link)>|title:<normalised title>")``; the title (as
   stored: cleaned and capped) is casefolded with whitespace collapsed (Unicode NFKC). The title is included
   because some feeds reuse one link (a live blog, a section page) for many items.

Consequence: two feeds carrying the same story under *different* opaque guids are two events (nothing in
the feeds says they are the same); same-story matching across sources is left to later stages.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import io
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

from ops_assets.news.text import ELLIPSIS, clean_json, clean_text, truncate
from ops_assets.timekeeping import require_aware

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

TITLE_MAX_CHARS = 1_000
"""Longest stored title; a longer one is cut on a character boundary and ends with an ellipsis."""
SUMMARY_MAX_CHARS = 10_000
"""Longest stored summary (plain text); cut like titles."""
RAW_MAX_CHARS = 20_000
"""Longest string kept in an item's ``raw`` payload (the feed's own markup, so larger than the summary cap)."""
LINK_MAX_CHARS = 4_096
"""Longest link accepted; an item whose link is longer is skipped (a cut link points nowhere)."""
DERIVED_TITLE_MAX_CHARS = 160
"""Longest title made from a summary's first sentence (for items that have none)."""
MAX_ITEMS_PER_FEED = 500
"""Most entries read from one document, in feed order (feeds list the newest first); the rest are skipped and
counted. A poll runs every minute and writes in one transaction: a 10 MB body could otherwise hold ~120,000
entries."""
FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far after the poll's ``now`` a publication time may be (clock skew) before it is stored as ``now``."""

# Why entries are skipped (keys of FeedRead.skipped) and what was repaired (keys of FeedRead.repaired).
SKIP_INVALID_LINK = "link is not a valid URL"
SKIP_LONG_LINK = f"link longer than {LINK_MAX_CHARS} characters"
SKIP_EMPTY = "no title and no summary"
SKIP_NO_IDENTITY = "summary only, with no title, link or guid"


def skip_over_cap(cap: int) -> str:
    """The skip reason of entries past the per-feed cap (:data:`MAX_ITEMS_PER_FEED` unless told otherwise)."""
    return f"over the per-feed cap of {cap}"


SKIP_OVER_CAP = skip_over_cap(MAX_ITEMS_PER_FEED)
FIXED_FUTURE_DATE = "future publication time set to the poll time"
FIXED_BAD_DATE = "unreadable publication time dropped"
FIXED_TITLE_FROM_SUMMARY = "title taken from the summary"
FIXED_LONG_TITLE = "title cut to length"
FIXED_LONG_SUMMARY = "summary cut to length"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_WHITESPACE = re.compile(r"\s+")
_PERMALINK = re.compile(r"^https?://[^/?#\s]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
    | {"blockquote", "section", "article", "header", "footer", "pre", "dd", "dt", "img"}
)
_SKIP_TAGS = frozenset({"script", "style", "noscript"})
# Bytes XML 1.0 never allows (C0 controls other than tab, newline, carriage return).
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D))
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")
_TEXT_CHAR_REF = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")
# Characters XML 1.0 never allows (in a decoded UTF-16/32 document, or in text written back into one).
_FORBIDDEN_TEXT_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Byte order marks, UTF-32 first (its little-endian mark starts with UTF-16's).
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_DECLARED_ENCODING = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml\b[^>]*?"
    rb"""(?P<attribute>\s+encoding\s*=\s*(?P<quote>["'])(?P<value>[^"'<>?]*)(?P=quote))"""
)
_WIDE_NAME = re.compile(rb"(?:utf-?(?:16|32)|ucs-?[24]|unicode)", re.IGNORECASE)
# What unwrap_title_cdata needs to see: CDATA sections and comments (opaque), <item> and <title> tags.
_MARKUP_TOKEN = re.compile(
    rb"<!\[CDATA\[(?P<cdata>.*?)(?P<closed>\]\]>|\Z)|<!--.*?(?:-->|\Z)"
    rb"|<(?P<close>/)?(?P<name>item|title)(?=[\s/>])[^>]*?(?P<empty>/)?>",
    re.DOTALL,
)
_ROOT_END = re.compile(rb"</\s*(?:[A-Za-z][\w.-]*:)?(?:rss|feed|rdf|channel)\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class NewsItem:
    """One feed entry, cleaned: plain-text title and summary, UTC publication time, stable ``event_uid``."""

    event_uid: str
    """sha256 hex identity (see the module docstring for the rules); the raw events table's unique key."""
    feed_name: str
    """The configured feed the item was read from (the first one, after :func:`dedupe`)."""
    title: str
    """Headline as plain text: markup removed only where the feed declared HTML, whitespace collapsed,
    cleaned, at most :data:`TITLE_MAX_CHARS` characters (or the summary's first sentence when it had none)."""
    link: str | None
    """The article URL as the feed gave it (tracking parameters included, control characters removed);
    ``None`` when absent."""
    summary: str
    """Summary/description as plain text (``""`` when the feed has none), at most :data:`SUMMARY_MAX_CHARS`."""
    published_at: datetime | None
    """When the feed says the item was published (or last updated, when it gives no publication time), UTC;
    never more than :data:`FUTURE_TOLERANCE` after the poll when :func:`read_feed` was given ``now``."""
    raw: dict[str, Any] = field(compare=False)
    """JSON-serialisable subset of the entry as the feed wrote it (cleaned, strings capped at
    :data:`RAW_MAX_CHARS`): ``id``, ``title``, ``link``, ``published``, ``summary`` (``None`` where missing),
    plus ``future_published_at`` when the publication time was clamped; kept for audits and re-parsing.
    The markup in it is the feed's own, unsanitised: never render it as HTML."""


@dataclass(frozen=True)
class FeedRead:
    """What :func:`read_feed` made of one document: the items, and what it skipped or repaired."""

    feed_name: str
    items: list[NewsItem]
    """The stored-to-be items, in feed order (not deduplicated)."""
    skipped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Entries not turned into items, counted by reason (``SKIP_*`` values, :func:`skip_over_cap` for those past
    the per-feed cap, or ``unreadable item (...)``)."""
    repaired: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Items stored after a repair, counted by kind (``FIXED_*`` values)."""
    warning: str | None = None
    """The parser's complaint about a document it could still read (``None`` when it had none); part of
    :meth:`report`, so it reaches ``feed_state.last_error``."""

    @property
    def skipped_count(self) -> int:
        return sum(self.skipped.values())

    def problems(self) -> str | None:
        """One line for ``feed_state.last_error`` of a feed that was read: what was skipped or repaired."""
        parts = []
        if self.skipped:
            total = self.skipped_count
            reasons = "; ".join(f"{reason}: {n}" for reason, n in sorted(self.skipped.items()))
            parts.append(f"{total} of {total + len(self.items)} items skipped ({reasons})")
        if self.repaired:
            parts.append("repaired: " + "; ".join(f"{what}: {n}" for what, n in sorted(self.repaired.items())))
        if not parts:
            return None
        return f"feed {self.feed_name} was read with problems: " + ", ".join(parts)

    def report(self) -> str | None:
        """``feed_state.last_error`` of a feed that was read: :meth:`problems`, then the parser's
        :attr:`warning` (a document cut off halfway, a wrong encoding declaration...); ``None`` when there was
        neither."""
        problems = self.problems()
        if self.warning is None:
            return problems
        warned = f"the feed parser warned: {self.warning} (the items it could read were kept)"
        return f"{problems}; {warned}" if problems else f"feed {self.feed_name} was read, but {warned}"


class FeedParseError(ValueError):
    """The body is not a feed feedparser can read (an HTML error page, broken XML with no items...)."""

    def __init__(self, feed_name: str, message: str) -> None:
        super().__init__(message)
        self.feed_name = feed_name


class _SkipEntry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def collapse(value: str | None) -> str:
    """Plain text as stored: cleaned (:func:`~ops_assets.news.text.clean_text`), whitespace collapsed."""
    if not value:
        return ""
    return _WHITESPACE.sub(" ", clean_text(value)).strip()


def plain_text(value: str | None) -> str:
    """HTML to plain text, decoding exactly once: tags removed, entities decoded, whitespace collapsed, cleaned.

    Only for values that *are* HTML (see the module docstring): ``"A &amp;amp; B <b>bold</b>"`` is
    ``"A &amp; B bold"`` (the markup's one level of escaping undone, not two). For plain text use
    :func:`collapse`.
    """
    if not value:
        return ""
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    return collapse("".join(parser.parts))


def text_of(value: str | None, content_type: str | None) -> str:
    """A feed value as plain text: :func:`plain_text` when ``content_type`` is HTML/XHTML, else :func:`collapse`."""
    return plain_text(value) if (content_type or "").lower() in _HTML_TYPES else collapse(value)


def normalize_title(title: str) -> str:
    """The title as compared for identity: Unicode NFKC, casefolded, whitespace collapsed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", title).casefold()).strip()


def title_from_summary(summary: str) -> str:
    """A headline for an item that has none: the summary's first sentence, at most
    :data:`DERIVED_TITLE_MAX_CHARS` characters (cut at a word boundary, with an ellipsis)."""
    first = _SENTENCE_END.split(summary.strip(), maxsplit=1)[0]
    if len(first) <= DERIVED_TITLE_MAX_CHARS:
        return first
    space = first.rfind(" ", 0, DERIVED_TITLE_MAX_CHARS)  # cut between words when one ends late enough
    if space > DERIVED_TITLE_MAX_CHARS // 2:
        return first[:space].rstrip() + ELLIPSIS
    return truncate(first, DERIVED_TITLE_MAX_CHARS)


# ------------------------------------------------------------------------------------------------- identity


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in TRACKING_PARAMS


def normalize_link(url: str) -> str:
    """The URL as compared for identity: the same article reached through different campaigns compares equal.

    Lowercases scheme and host, drops the default port, the ``#fragment`` and tracking parameters
    (``utm_*``, ``fbclid``, ``gclid``... see :data:`TRACKING_PARAMS`), sorts the remaining query parameters
    and strips trailing slashes from the path. The path's case is kept (servers may treat it as significant).
    Raises ``ValueError`` for a string that is not a URL (a port out of range, an unbalanced ``[``);
    :func:`read_feed` skips such items before it gets here.
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


def is_valid_link(url: str) -> bool:
    """Whether ``url`` can be taken apart as a URL (its port, if any, is a number from 0 to 65535, its
    brackets balance...): what :func:`normalize_link` needs."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port, parts.hostname
    except ValueError:
        return False
    return True


def event_uid(feed_entry_guid: str | None, link: str | None, title: str) -> str:
    """Stable identity of a news item (sha256 hex).

    ``sha256("guid:<guid>")`` when a guid is given, else
    ``sha256("link:<normalize_link(link)>|title:<normalize_title(title)>")`` (an empty link part when there is
    no link). Callers decide which guids count: :func:`read_feed` passes ``None`` for permalink guids (see
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
    """Whether a guid/id is an ``http(s)`` URL (then it is identified by link + title, not as a guid).

    Never raises: a guid that only starts like a URL counts as one (and is then checked as a link).
    """
    return bool(_PERMALINK.match(guid.strip()))


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


def _type(entry: Mapping[str, Any], key: str) -> str | None:
    detail = entry.get(f"{key}_detail")
    return _text(detail.get("type")) if isinstance(detail, Mapping) else None


def _xml_char_allowed(codepoint: int) -> bool:
    return (
        codepoint in (0x9, 0xA, 0xD)
        or 0x20 <= codepoint <= 0xD7FF
        or 0xE000 <= codepoint <= 0xFFFD
        or 0x10000 <= codepoint <= 0x10FFFF
    )


def _allowed_char_ref(hex_digits: str | bytes | None, dec_digits: str | bytes | None) -> bool:
    written = hex_digits or dec_digits or "0"
    digits = (written.decode("ascii") if isinstance(written, bytes) else written).lstrip("0") or "0"
    if len(digits) > 8:  # far beyond U+10FFFF (and int() of a huge digit string is refused anyway)
        return False
    return _xml_char_allowed(int(digits, 16 if hex_digits else 10))


def _drop_bad_char_ref(match: re.Match[bytes]) -> bytes:
    return match.group(0) if _allowed_char_ref(match.group(1), match.group(2)) else b""


def _drop_bad_text_char_ref(match: re.Match[str]) -> str:
    return match.group(0) if _allowed_char_ref(match.group(1), match.group(2)) else ""


def _wide_codec(body: bytes) -> tuple[str, int] | None:
    """``(codec, BOM length)`` of a UTF-16/32 document, ``None`` for an ASCII-compatible one.

    A byte order mark decides; without one, the pattern of NUL bytes around the first character (``<`` or
    whitespace, which XML requires) tells the width and the byte order (XML 1.0, appendix F).
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, len(bom)
    head = body[:4]
    if len(head) < 4:
        return None
    if head[:3] == b"\0\0\0" and head[3]:
        return "utf-32-be", 0
    if head[1:] == b"\0\0\0" and head[0]:
        return "utf-32-le", 0
    if head[0] == 0 and head[2] == 0 and head[1] and head[3]:
        return "utf-16-be", 0
    if head[1] == 0 and head[3] == 0 and head[0] and head[2]:
        return "utf-16-le", 0
    return None


def _declared_encoding(document: bytes) -> re.Match[bytes] | None:
    return _DECLARED_ENCODING.match(document)


def _declare(document: bytes, encoding: bytes | None) -> bytes:
    """``document`` with its XML declaration's ``encoding`` set to ``encoding`` (removed when ``None``);
    unchanged when it declares none."""
    match = _declared_encoding(document)
    if match is None:
        return document
    if encoding is None:
        return document[: match.start("attribute")] + document[match.end() :]
    return document[: match.start("value")] + encoding + document[match.end("value") :]


def sanitize_document(body: bytes) -> bytes:
    """The feed's bytes minus what makes feedparser raise instead of parse: control characters and character
    references to characters XML forbids (``&#0;``, ``&#xD800;``, ``&#x110000;``...).

    - **UTF-16/32** (a byte order mark, or the NUL bytes of a wide encoding around the first character): the
      document is decoded to text (undecodable sequences become U+FFFD), cleaned, and re-encoded as UTF-8 with
      its XML declaration saying ``utf-8`` — so one bad item cannot cost the feed in these encodings either.
    - **ASCII-compatible encodings** (UTF-8, Latin-1, Windows-125x, Shift_JIS, GBK...: a byte below 0x20 is
      always that control character there): control bytes and bad references are removed from the bytes; a
      declaration that names UTF-16/32 (which such bytes cannot be) is corrected to ``utf-8`` when the bytes
      are UTF-8, and removed otherwise (feedparser then guesses as for an undeclared document).
    """
    wide = _wide_codec(body)
    if wide is not None:
        codec, bom = wide
        text = body[bom:].decode(codec, errors="replace")
        text = _FORBIDDEN_TEXT_CHARS.sub("", text)
        if "&#" in text:
            text = _TEXT_CHAR_REF.sub(_drop_bad_text_char_ref, text)
        return _declare(text.encode("utf-8"), b"utf-8")
    body = body.translate(None, _CONTROL_BYTES)
    if b"&#" in body:
        body = _CHAR_REF.sub(_drop_bad_char_ref, body)
    declared = _declared_encoding(body)
    if declared is not None and _WIDE_NAME.match(declared.group("value")):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return _declare(body, None)
        return _declare(body, b"utf-8")
    return body


def _html_text(value: str) -> str:
    """HTML to text, decoding once (tags removed, references decoded); whitespace kept as it is."""
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    return "".join(parser.parts)


def _title_cdata_as_text(section: bytes, codec: str) -> bytes | None:
    """A title's CDATA section (its content, in the document's ``codec``) as XML-escaped plain text, or
    ``None`` when the content cannot be decoded (then it is left as it is)."""
    try:
        text = section.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    plain = _FORBIDDEN_TEXT_CHARS.sub("", _html_text(text))
    escaped = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.encode(codec, errors="xmlcharrefreplace")


def unwrap_title_cdata(document: bytes) -> bytes:
    """``document`` with every CDATA section inside the ``<title>`` of an RSS ``<item>`` replaced by its text,
    XML-escaped: ``<title><![CDATA[AT&amp;T <b>wins</b>]]></title>`` becomes ``<title>AT&amp;T wins</title>``.

    Publishers put HTML-escaped text in CDATA, so the section is read as HTML once (character references
    decoded, tags removed, a ``<`` that starts no tag kept) and written back as the plain text it stands for;
    the parser's one XML decode then gives exactly that text. Text outside CDATA, other elements, Atom entries
    and channel titles are left alone. Sections are decoded in the declared encoding (UTF-8 when none is
    declared, as after :func:`sanitize_document` for UTF-16/32); one that does not decode is left as it is.
    """
    if b"<![CDATA[" not in document:
        return document
    declared = _declared_encoding(document)
    codec = declared.group("value").decode("ascii", errors="replace") if declared else "utf-8"
    try:
        codecs.lookup(codec)
    except LookupError:
        codec = "utf-8"
    pieces: list[bytes] = []
    done = 0
    items = 0
    in_title = False
    for token in _MARKUP_TOKEN.finditer(document):
        name = token.group("name")
        if name is None:  # a CDATA section or a comment
            section = token.group("cdata")
            if items and in_title and section is not None and token.group("closed"):
                text = _title_cdata_as_text(section, codec)
                if text is not None:
                    pieces += [document[done : token.start()], text]
                    done = token.end()
            continue
        if token.group("empty"):
            continue
        closing = bool(token.group("close"))
        if name == b"item":
            items = max(0, items - 1) if closing else items + 1
            in_title = False
        elif items:
            in_title = not closing
    if not pieces:
        return document
    pieces.append(document[done:])
    return b"".join(pieces)


def read_feed(
    feed_name: str, body: bytes, *, now: datetime | None = None, max_items: int = MAX_ITEMS_PER_FEED
) -> FeedRead:
    """Parse an RSS 2.0 / Atom document (bytes) into a :class:`FeedRead`: items in feed order (not
    deduplicated), plus what was skipped and repaired (see the module docstring).

    Only the bytes are parsed: feedparser gets an ``io.BytesIO``, never a string or bytes it could take for a
    path or URL, so it never opens or fetches anything. ``now`` (the poll's time, timezone-aware: a naive one
    raises ``ValueError``) enables the clamping of future publication times. Only the first ``max_items``
    entries are read (feeds list the newest first); the rest are counted as skipped. A feed with problems but
    readable entries (truncated XML, a wrong encoding declaration) yields what it could read, with the
    parser's complaint in :attr:`FeedRead.warning`; a feed with no entries yields no items. Raises
    :class:`FeedParseError` when the body is not a feed at all, or is broken with no entry readable.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"parse_feed expects the feed's bytes, got {type(body).__name__}")
    if now is not None:
        require_aware(now, "now")
    if max_items < 1:
        raise ValueError(f"max_items must be at least 1, got {max_items}")
    document = unwrap_title_cdata(sanitize_document(bytes(body)))
    # A stream, never bytes or str: feedparser would open those as a path or URL. Its HTML sanitiser and URI
    # rewriting stay off: they re-serialise text it merely guesses is HTML ("AT&T" -> "AT&amp;T"), so values
    # would no longer be the document's text. Markup is only ever reduced to plain text here.
    parsed = feedparser.parse(io.BytesIO(document), sanitize_html=False, resolve_relative_uris=False)
    entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    warning = collapse(f"{type(problem).__name__}: {problem}") if problem is not None else None
    if not entries:
        if not version:
            if problem is not None:
                raise FeedParseError(
                    feed_name,
                    f"feed {feed_name} could not be parsed and no items were readable ({warning}); first bytes: "
                    f"{_preview(document)!r}. Check that the feed URL still serves a feed (it may be an error page).",
                )
            raise FeedParseError(
                feed_name,
                f"feed {feed_name} answered something that is not an RSS or Atom feed; first bytes: "
                f"{_preview(document)!r}. Check that the feed URL still serves a feed.",
            )
        if problem is not None and not _ROOT_END.search(document):
            raise FeedParseError(
                feed_name,
                f"feed {feed_name} sent a feed cut off before its end with no readable item ({warning}); "
                "the next poll tries again.",
            )
        return FeedRead(feed_name, [], warning=warning)

    atom = version.startswith("atom")
    items: list[NewsItem] = []
    skipped: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    if len(entries) > max_items:
        skipped[skip_over_cap(max_items)] = len(entries) - max_items
        entries = entries[:max_items]
    for entry in entries:
        fixes: list[str] = []
        try:
            item = _read_entry(feed_name, entry, atom=atom, now=now, fixes=fixes)
        except _SkipEntry as skip:
            skipped[skip.reason] += 1
            continue
        except Exception as exc:  # one odd entry must cost that entry, not the feed
            skipped[f"unreadable item ({type(exc).__name__})"] += 1
            continue
        repaired.update(fixes)
        items.append(item)
    return FeedRead(feed_name, items, MappingProxyType(dict(skipped)), MappingProxyType(dict(repaired)), warning)


def parse_feed(
    feed_name: str, body: bytes, *, now: datetime | None = None, max_items: int = MAX_ITEMS_PER_FEED
) -> list[NewsItem]:
    """The items of :func:`read_feed` (what was skipped or repaired is not reported; use :func:`read_feed`)."""
    return read_feed(feed_name, body, now=now, max_items=max_items).items


def _link(value: str | None) -> str | None:
    link = clean_text(value, keep_whitespace_controls=False).strip() if value else ""
    if not link:
        return None
    if len(link) > LINK_MAX_CHARS:
        raise _SkipEntry(SKIP_LONG_LINK)
    if not is_valid_link(link):
        raise _SkipEntry(SKIP_INVALID_LINK)
    return link


def _published_at(
    entry: Mapping[str, Any], raw: dict[str, Any], now: datetime | None, fixes: list[str]
) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return None
    try:
        when = _utc(parsed)
    except (ValueError, OverflowError, OSError):
        if now is not None and getattr(parsed, "tm_year", 0) > 9999:  # past datetime's range: far future
            raw["future_published_at"] = raw.get("published")
            fixes.append(FIXED_FUTURE_DATE)
            return now
        fixes.append(FIXED_BAD_DATE)
        return None
    if now is not None and when is not None and when > now + FUTURE_TOLERANCE:
        raw["future_published_at"] = when.isoformat()
        fixes.append(FIXED_FUTURE_DATE)
        return now
    return when


def _read_entry(
    feed_name: str, entry: Mapping[str, Any], *, atom: bool, now: datetime | None, fixes: list[str]
) -> NewsItem:
    raw_title = _text(entry.get("title"))
    raw_link = _text(entry.get("link"))
    raw_guid = _text(entry.get("id"))
    raw_summary = _text(entry.get("summary"))
    raw: dict[str, Any] = {
        "id": raw_guid,
        "title": raw_title,
        "link": raw_link,
        "published": _text(entry.get("published")) or _text(entry.get("updated")),
        "summary": raw_summary,
    }
    guid = clean_text(raw_guid, keep_whitespace_controls=False).strip() if raw_guid else None
    # RSS titles are plain text (feedparser's "looks like HTML" guess is ignored); Atom says what it holds.
    title = text_of(raw_title, _type(entry, "title") if atom else "text/plain")
    summary = text_of(raw_summary, _type(entry, "summary"))
    link = _link(raw_link)
    link_for_uid = link or (_link(guid) if guid and is_permalink(guid) else None)
    if not title:
        if not summary:
            raise _SkipEntry(SKIP_EMPTY)
        if not (guid or link_for_uid):
            raise _SkipEntry(SKIP_NO_IDENTITY)
        title = title_from_summary(summary)
        fixes.append(FIXED_TITLE_FROM_SUMMARY)
    if len(title) > TITLE_MAX_CHARS:
        title = truncate(title, TITLE_MAX_CHARS)
        fixes.append(FIXED_LONG_TITLE)
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = truncate(summary, SUMMARY_MAX_CHARS)
        fixes.append(FIXED_LONG_SUMMARY)
    published_at = _published_at(entry, raw, now, fixes)
    return NewsItem(
        event_uid=event_uid(identity_guid(guid), link_for_uid, title),
        feed_name=feed_name,
        title=title,
        link=link_for_uid,
        summary=summary,
        published_at=published_at,
        raw=clean_json(raw, max_chars=RAW_MAX_CHARS),
    )


def _preview(body: bytes, limit: int = 60) -> str:
    text = " ".join(clean_text(body[:400].decode("utf-8", errors="replace")).split())
    return text[:limit] + ("..." if len(text) > limit else "")
