"""Shared HTTP plumbing for the resources that call web APIs (TT working orders, Yahoo's chart API, RSS feeds).

One place for what each of them used to spell out on its own:

- :class:`SessionHolder`: one ``requests.Session`` per resource instance (keep-alive), opened lazily, closed by
  the resource's ``close``/teardown.
- :func:`get`: ``session.get`` whose timeouts and connection failures become :class:`TransientHTTPError` and whose
  other request failures (invalid URL, too many redirects) become :class:`HTTPRequestError`; no ``requests``
  exception is chained to them (its text can carry the URL, and some feed URLs carry an access token).
- :func:`check_transient_status`: HTTP 5xx (and any status the caller adds, e.g. 429) is a
  :class:`TransientHTTPError`; other statuses are the caller's to judge.
- :func:`read_body`: reads a streamed body up to a size limit; a stall or drop mid-body is transient too.
- :func:`call_with_retries`: tenacity retries of :class:`TransientHTTPError` with exponential backoff and jitter,
  bounded in attempts and optionally in time (:class:`RetryPolicy`); any other exception ends it at once, and
  running out raises :class:`RetriesExhausted` with the last failure's words, status and the attempt count.

Messages are short phrases meant to follow a name ("feed marketwire", "TT working orders"): ``timed out (no
answer within 5 s)``, ``could not be reached (connection refused or dropped)``, ``answered HTTP 503``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TypeVar

import requests
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TransientHTTPError(Exception):
    """A failure worth retrying (HTTP 5xx, a timeout, a refused or dropped connection).

    ``what``: a phrase saying what happened; ``http_status``: the status received, ``None`` when none came.
    """

    def __init__(self, what: str, http_status: int | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.http_status = http_status


class HTTPRequestError(Exception):
    """The request could not be made at all (invalid URL, too many redirects): retrying will not help."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class RetriesExhausted(Exception):
    """Every attempt failed transiently: ``what``/``http_status`` of the last failure, ``attempts`` made."""

    def __init__(self, what: str, http_status: int | None, attempts: int) -> None:
        super().__init__(f"{what} after {attempts} attempt{'s' if attempts != 1 else ''}")
        self.what = what
        self.http_status = http_status
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry: at most ``max_attempts`` requests (the first included), waits growing from
    ``backoff_initial_seconds`` (doubling, with jitter of half the initial wait) up to ``backoff_max_seconds``,
    and, with ``deadline_seconds``, no wait that would end later than that after the first request starts."""

    max_attempts: int = 3
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 8.0
    deadline_seconds: float | None = None


class SessionHolder:
    """One lazily opened ``requests.Session`` (thread-safe); :meth:`close` closes it, the next use opens another."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: requests.Session | None = None

    def session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                self._session = requests.Session()
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def get(
    session: requests.Session,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    stream: bool = False,
) -> requests.Response:
    """``session.get``; raises :class:`TransientHTTPError` (timeout, connection refused/dropped) or
    :class:`HTTPRequestError` (any other request failure), with no ``requests`` exception chained."""
    failure: Exception | None = None
    try:
        return session.get(url, headers=dict(headers or {}), params=params, timeout=timeout, stream=stream)
    except requests.Timeout:  # before ConnectionError: a connect timeout is both
        failure = TransientHTTPError(f"timed out (no answer within {timeout:g} s)")
    except requests.ConnectionError:
        failure = TransientHTTPError("could not be reached (connection refused or dropped)")
    except requests.RequestException as exc:
        failure = HTTPRequestError(f"could not be requested ({type(exc).__name__})")
    raise failure


def check_transient_status(response: requests.Response, *, also: Collection[int] = ()) -> None:
    """Raise :class:`TransientHTTPError` (``answered HTTP <code>``) for a 5xx or a status in ``also``."""
    code = response.status_code
    if code >= 500 or code in also:
        raise TransientHTTPError(f"answered HTTP {code}", code)


def read_body(
    response: requests.Response, *, max_bytes: int, timeout: float, too_large: Callable[[int], Exception]
) -> bytes:
    """The body of a streamed response, at most ``max_bytes`` (else ``too_large(max_bytes)`` is raised).

    A server that stalls or drops the connection mid-body raises :class:`TransientHTTPError`.
    """
    code = response.status_code
    chunks: list[bytes] = []
    size = 0
    failure: Exception | None = None
    try:
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                failure = too_large(max_bytes)
                break
            chunks.append(chunk)
    except requests.Timeout:
        failure = TransientHTTPError(f"timed out while sending its body (over {timeout:g} s)", code)
    except requests.RequestException as exc:  # dropped mid-body, bad gzip...
        failure = TransientHTTPError(f"dropped the connection while sending its body ({type(exc).__name__})", code)
    if failure is not None:
        raise failure
    return b"".join(chunks)


def call_with_retries(
    attempt: Callable[[int], T], policy: RetryPolicy, *, name: str, log_level: int = logging.INFO
) -> T:
    """``attempt(n)`` for n = 1, 2, ... until it returns; retries only :class:`TransientHTTPError`.

    Any other exception from ``attempt`` propagates at once. When the policy runs out, raises
    :class:`RetriesExhausted` (not chained). ``name`` starts each retry's log line ("TT working orders").
    """
    stop = stop_after_attempt(max(1, policy.max_attempts))
    if policy.deadline_seconds is not None:
        stop = stop | stop_before_delay(policy.deadline_seconds)
    attempts = 0

    def one() -> T:
        nonlocal attempts
        attempts += 1
        return attempt(attempts)

    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        last = outcome.exception() if outcome is not None else None
        what = last.what if isinstance(last, TransientHTTPError) else "failed"
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.log(log_level, "%s %s (attempt %d); retrying in %.2f s", name, what, state.attempt_number, wait)

    retrying = Retrying(
        stop=stop,
        wait=wait_exponential_jitter(
            multiplier=policy.backoff_initial_seconds,
            max=policy.backoff_max_seconds,
            jitter=policy.backoff_initial_seconds / 2,
        ),
        retry=retry_if_exception_type(TransientHTTPError),
        before_sleep=before_sleep,
        reraise=False,
    )
    exhausted: RetriesExhausted | None = None
    try:
        return retrying(one)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        if isinstance(last, TransientHTTPError):
            exhausted = RetriesExhausted(last.what, last.http_status, attempts)
        else:  # not reachable with retry_if_exception_type, but never lose the count
            exhausted = RetriesExhausted("kept failing", None, attempts)
    raise exhausted
