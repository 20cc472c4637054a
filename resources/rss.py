"""RSS/Atom feed fetcher: one conditional, retried ``GET`` per feed per poll, never raising for a feed problem.

The news feeds are polled every minute. To stay polite and cheap, each poll is a *conditional* GET: the
``ETag`` and ``Last-Modified`` from the previous answer go back as ``If-None-Match`` / ``If-Modified-Since``,
and an unchanged feed answers ``304 Not Modified`` with no body.

Every outcome comes back as a :class:`FeedFetch` — ``ok`` (a body to parse), ``not_modified`` (nothing new)
or ``error`` (with a message saying what happened) — so one broken feed never stops the others:

- HTTP 5xx, timeouts and connection failures are retried with exponential backoff (``max_attempts`` in
  all), then reported as ``error``;
- HTTP 4xx (404 gone, 403 blocked, 429 throttled...) is reported as ``error`` at once: retrying within the
  same minute would not help, the next poll tries again anyway;
- anything else unexpected (an invalid URL, too many redirects, a body over ``max_body_bytes``) is an
  ``error`` too.

Messages name the feed, never its URL: some paid feeds carry an access token in the URL.

The body is returned as the server sent it (bytes, never decoded or opened as anything else): hand it to
``ops_assets.news.feeds.read_feed``, which parses it without ever letting feedparser treat it as a path or URL.
The validators a server answers (``ETag``, ``Last-Modified``) are kept only when they are plausible — printable,
at most :data:`MAX_VALIDATOR_CHARS` characters — so a hostile header cannot end up in ``feed_state`` or in the
next request (a feed without usable validators is simply fetched in full).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from resources.http import (
    HTTPRequestError,
    RetriesExhausted,
    RetryPolicy,
    SessionHolder,
    call_with_retries,
    check_transient_status,
    get,
    read_body,
)

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "ops-platform-feed-reader/0.1"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"

FetchStatus = Literal["ok", "not_modified", "error"]

MAX_VALIDATOR_CHARS = 1_024
"""Longest ``ETag`` / ``Last-Modified`` kept for the next conditional GET (real ones are tens of characters)."""


def _validator(value: str | None) -> str | None:
    """A response's ETag / Last-Modified as worth sending back: ``None`` when absent, empty or implausible
    (longer than :data:`MAX_VALIDATOR_CHARS`, or holding a control, format or surrogate character)."""
    value = (value or "").strip()
    return value if value and len(value) <= MAX_VALIDATOR_CHARS and value.isprintable() else None


@dataclass(frozen=True)
class FeedFetch:
    """The outcome of polling one feed once.

    ``status``: ``"ok"`` (``body`` holds the feed), ``"not_modified"`` (HTTP 304: nothing new since the
    ``etag``/``last_modified`` sent) or ``"error"`` (``error`` says what went wrong; ``body`` is ``None``).
    ``etag``/``last_modified`` are what to send on the next poll: the response's, or — when the response did
    not repeat them (a 304 often does not) or the fetch failed — the ones this poll sent, so storing them
    unconditionally is always right.
    """

    feed_name: str
    url: str
    status: FetchStatus
    body: bytes | None
    etag: str | None
    last_modified: str | None
    http_status: int | None
    """The last HTTP status received (``None`` when no answer came: timeout, connection refused)."""
    error: str | None
    attempts: int = 1
    """HTTP requests made for this poll (retries included)."""


class _Final(Exception):
    """A failure retrying will not fix within this poll (HTTP 4xx, invalid URL, oversized body)."""

    def __init__(self, what: str, http_status: int | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.http_status = http_status


class RssFetcher(dg.ConfigurableResource):
    """Downloads RSS/Atom feeds: conditional GET, retries on transient failures, never raises for a feed.

    ``fetch`` answers a :class:`FeedFetch` whose ``status`` is ``ok``, ``not_modified`` or ``error``; hand an
    ``ok`` body (bytes) to ``ops_assets.news.feeds.read_feed``.
    """

    timeout_seconds: float = Field(default=10, description="Per-request HTTP timeout (connect and each read).")
    max_attempts: int = Field(default=3, description="Attempts per poll, first one included.")
    backoff_initial_seconds: float = Field(default=0.5, description="First retry wait (doubles each time).")
    backoff_max_seconds: float = Field(default=8.0, description="Longest single retry wait.")
    user_agent: str = Field(default=DEFAULT_USER_AGENT, description="User-Agent header sent to feed servers.")
    max_body_bytes: int = Field(
        default=10_000_000, description="Feeds larger than this are refused (a misconfigured URL, not a feed)."
    )

    _sessions: SessionHolder = PrivateAttr(default_factory=SessionHolder)

    def fetch(
        self,
        feed_name: str,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FeedFetch:
        """Poll one feed; never raises for a feed problem (the outcome is in the returned ``status``)."""
        headers = {"User-Agent": self.user_agent, "Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        attempts = 0

        def attempt(number: int) -> FeedFetch:
            nonlocal attempts
            attempts = number
            return self._attempt(feed_name, url, headers, etag, last_modified, number)

        def failed(message: str, http_status: int | None) -> FeedFetch:
            logger.warning("%s", message)
            return FeedFetch(feed_name, url, "error", None, etag, last_modified, http_status, message, attempts)

        policy = RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_initial_seconds=self.backoff_initial_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
        )
        try:
            return call_with_retries(attempt, policy, name=f"feed {feed_name}")
        except RetriesExhausted as exc:
            return failed(f"feed {feed_name} {exc}", exc.http_status)
        except _Final as exc:
            return failed(f"feed {feed_name} {exc.what}; not retried", exc.http_status)
        except Exception as exc:  # a bug or an oddity must cost one feed, not the whole poll
            return failed(f"feed {feed_name} could not be fetched: unexpected {type(exc).__name__}", None)

    def close(self) -> None:
        """Close the HTTP session (a later fetch opens a new one)."""
        self._sessions.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- internals

    def _attempt(
        self,
        feed_name: str,
        url: str,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
        attempts: int,
    ) -> FeedFetch:
        problem: str | None = None
        try:
            response = get(self._sessions.session(), url, headers=headers, timeout=self.timeout_seconds, stream=True)
        except HTTPRequestError as exc:  # invalid URL, too many redirects: retrying will not help
            problem = f"{exc.what}: check the feed URL"
        if problem is not None:
            raise _Final(problem)
        with response:
            code = response.status_code
            if code == 304:
                return FeedFetch(
                    feed_name,
                    url,
                    "not_modified",
                    None,
                    _validator(response.headers.get("ETag")) or etag,
                    _validator(response.headers.get("Last-Modified")) or last_modified,
                    code,
                    None,
                    attempts,
                )
            check_transient_status(response)
            if code >= 400:
                hint = " (check the feed URL)" if code in (404, 410) else ""
                raise _Final(f"answered HTTP {code}{hint}", code)
            if not 200 <= code < 300:
                raise _Final(f"answered HTTP {code}, which is not a feed", code)
            body = read_body(
                response,
                max_bytes=self.max_body_bytes,
                timeout=self.timeout_seconds,
                too_large=lambda limit: _Final(f"answered more than {limit} bytes, which is not a news feed", code),
            )
            return FeedFetch(
                feed_name,
                url,
                "ok",
                body,
                _validator(response.headers.get("ETag")),
                _validator(response.headers.get("Last-Modified")),
                code,
                None,
                attempts,
            )
