"""Alpha Vantage client: one rate-limited, retried, classified ``GET /query`` per call.

Alpha Vantage answers errors and throttling with **HTTP 200** and a JSON body, so every answer is classified
(:func:`classify_payload`) before it is handed back. Errors carry a *scope* telling the caller how far the
failure reaches:

- :class:`AlphaVantageTickerError` (``"ticker"``): fail this ticker, continue with the others — invalid API
  call (unknown or delisted symbol), empty or malformed body, or throttling / HTTP 5xx / timeouts still
  failing after every retry.
- :class:`AlphaVantageRunError` (``"run"``): stop the whole run now — invalid or missing key, the demo key
  off its examples, a premium endpoint or ``outputsize=full`` without the plan: every ticker would fail the
  same way.
- :class:`AlphaVantageDailyQuotaError` (``"day"``): the free daily quota is spent; stop fetching for today,
  keep what was fetched.

The API key is a secret: it is sent as the ``apikey`` query parameter (the only way Alpha Vantage accepts
it) and never appears in an exception message, a log line, a repr or the stats. ``requests`` exceptions,
which embed the full URL, are never propagated; urllib3's debug log lines are redacted by a logging filter.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import dagster as dg
import requests
from pydantic import Field, PrivateAttr
from pyrate_limiter import InMemoryBucket, Limiter, Rate, SingleBucketFactory
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from resources.secrets import SecretNotFoundError, SecretsResource

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.alphavantage.co/query"
PREMIUM_URL = "https://www.alphavantage.co/premium/"
API_KEY_URL = "https://www.alphavantage.co/support/#api-key"
PUBLIC_KEYS = frozenset({"demo", "sample"})
"""Keys that are not secrets (so ``demo`` in Alpha Vantage's own wording is not redacted)."""
REDACTED = "***"

EXPECTED_KEYS: dict[str, str] = {
    "INCOME_STATEMENT": "quarterlyReports",
    "BALANCE_SHEET": "quarterlyReports",
    "CASH_FLOW": "quarterlyReports",
    "EARNINGS": "quarterlyEarnings",
    "TIME_SERIES_DAILY": "Time Series (Daily)",
    "TIME_SERIES_DAILY_ADJUSTED": "Time Series (Daily)",
    "TIME_SERIES_INTRADAY": "Time Series ({interval})",
    "SPLITS": "data",
    "DIVIDENDS": "data",
    "ETF_PROFILE": "holdings",
    "OVERVIEW": "Symbol",
}
"""Function -> top-level key of good data (TIME_SERIES_INTRADAY's is built from ``interval``)."""

_SNIPPET_CHARS = 60
_KEY_IN_URL = re.compile(r"(apikey=)[^&\s'\"]+", re.IGNORECASE)
_KEY_ECHOED = re.compile(r"(your API key as )\S+", re.IGNORECASE)


def redact(text: str, key: str | None = None) -> str:
    """Replace the key (and anything shaped like ``apikey=...`` or "your API key as ...") with ``***``."""
    text = _KEY_IN_URL.sub(rf"\g<1>{REDACTED}", text)
    text = _KEY_ECHOED.sub(rf"\g<1>{REDACTED}", text)
    if key and key not in PUBLIC_KEYS:
        text = text.replace(key, REDACTED)
    return text


def _snippet(text: str, key: str | None = None) -> str:
    flat = " ".join(text.split())
    cut = flat[:_SNIPPET_CHARS] + ("..." if len(flat) > _SNIPPET_CHARS else "")
    return redact(cut, key)


def expected_key_for(function: str, params: dict[str, str] | None = None) -> str | None:
    """The top-level key good data for ``function`` carries, or ``None`` when unknown."""
    template = EXPECTED_KEYS.get(function.upper())
    if template is None:
        return None
    return template.format(interval=(params or {}).get("interval", "5min"))


# ------------------------------------------------------------------------------------------------- errors


def _rebuild_error(cls: type[AlphaVantageError], message: str, function: str, symbol: str | None) -> Exception:
    return cls(message, function=function, symbol=symbol)


class AlphaVantageError(Exception):
    """A failed Alpha Vantage call. The message is user-actionable and never contains the API key."""

    scope: ClassVar[str] = "ticker"

    def __init__(self, message: str, *, function: str, symbol: str | None) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.function = function
        self.symbol = symbol

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, function={self.function!r}, symbol={self.symbol!r})"

    def __reduce__(self) -> tuple[Any, ...]:  # keyword-only __init__: teach pickle (Dagster ships errors around)
        return (_rebuild_error, (type(self), self.message, self.function, self.symbol))


class AlphaVantageTickerError(AlphaVantageError):
    """Fail this ticker and continue with the others."""

    scope: ClassVar[str] = "ticker"


class AlphaVantageRunError(AlphaVantageError):
    """Stop the whole run: every ticker would fail the same way (key, plan, configuration)."""

    scope: ClassVar[str] = "run"


class AlphaVantageDailyQuotaError(AlphaVantageError):
    """The free daily quota is spent: stop fetching for today; what was fetched stays usable."""

    scope: ClassVar[str] = "day"


class _Retryable(Exception):
    """A transient answer (throttle body, HTTP 429/5xx, timeout): back off and try again."""

    def __init__(self, what: str, *, throttled: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.throttled = throttled


# ------------------------------------------------------------------------------------------------- classify


def _target(function: str, symbol: str | None) -> str:
    return f"{function} {symbol}" if symbol else function


def classify_payload(payload: object, *, function: str, symbol: str | None, expected_key: str | None) -> None:
    """Raise the right error for an error/throttle body or a body without ``expected_key``; ``None`` for data.

    Pure. Burst-limit and ``Note`` throttle bodies raise the private ``_Retryable`` (the client backs off and
    retries them). The burst-limit body also mentions "25 requests per day", so it is recognised before the
    daily quota.
    """
    target = _target(function, symbol)
    args = {"function": function, "symbol": symbol}
    if not isinstance(payload, dict):
        raise AlphaVantageTickerError(
            f"Alpha Vantage returned JSON that is not an object for {target} "
            f"(a {type(payload).__name__}): a malformed answer. Skipping this ticker.",
            **args,
        )
    if "Error Message" in payload:
        text = str(payload["Error Message"])
        lowered = text.lower()
        if "apikey" in lowered and ("invalid" in lowered or "missing" in lowered):
            raise AlphaVantageRunError(
                f"Alpha Vantage rejected the API key as invalid or missing (on {target}). Every request would "
                f"fail the same way, so the run stops: configure a valid key (claim one at {API_KEY_URL}).",
                **args,
            )
        if lowered.startswith("invalid api call"):
            raise AlphaVantageTickerError(
                f"Alpha Vantage answered 'Invalid API call' for {target}: the symbol is unknown or delisted, "
                f"or {function} does not apply to it. Skipping this ticker (not retried).",
                **args,
            )
        raise AlphaVantageTickerError(
            f"Alpha Vantage answered an error for {target}: {_snippet(text)!r}. Skipping this ticker.", **args
        )
    if "Information" in payload:
        text = str(payload["Information"])
        lowered = text.lower()
        if "**demo** api key" in lowered or "demo purposes" in lowered:
            raise AlphaVantageRunError(
                f"The 'demo' API key only answers Alpha Vantage's documentation examples (IBM; QQQ for "
                f"ETF_PROFILE), not {target}. Configure a real API key (free at {API_KEY_URL}); stopping the run.",
                **args,
            )
        if "spreading out" in lowered or "per second" in lowered or "burst" in lowered:
            raise _Retryable("throttling (burst limit)", throttled=True)
        if "premium endpoint" in lowered:
            raise AlphaVantageRunError(
                f"{function} is a premium Alpha Vantage endpoint and this API key's plan does not include it: "
                f"a premium plan is needed ({PREMIUM_URL}). Stopping the run: every ticker would fail the same way.",
                **args,
            )
        if "outputsize=full" in lowered or "premium feature" in lowered:
            raise AlphaVantageRunError(
                f"outputsize=full on {function} is a premium Alpha Vantage feature and this API key's plan does "
                f"not include it: ask for outputsize=compact (last 100 data points) or use a premium plan "
                f"({PREMIUM_URL}). Stopping the run: every ticker would fail the same way.",
                **args,
            )
        if "per day" in lowered or "daily rate limit" in lowered or "rate limit" in lowered:
            raise AlphaVantageDailyQuotaError(
                f"Alpha Vantage's daily request quota for this API key is spent (free plan: 25 requests per "
                f"day), at {target}. Stop fetching for today - what was fetched stays usable - and run again "
                f"tomorrow, or move to a premium plan ({PREMIUM_URL}).",
                **args,
            )
        raise AlphaVantageTickerError(
            f"Alpha Vantage answered {target} with an unrecognised notice instead of data: "
            f"{_snippet(text)!r}. Skipping this ticker (not retried).",
            **args,
        )
    if "Note" in payload:
        raise _Retryable("throttling (Note: call frequency limit)", throttled=True)
    if not payload:
        raise AlphaVantageTickerError(
            f"Alpha Vantage returned an empty body ({{}}) for {target}: the symbol is probably unknown to "
            "Alpha Vantage. Skipping this ticker.",
            **args,
        )
    if expected_key is not None and expected_key not in payload:
        keys = ", ".join(repr(k) for k in list(payload)[:5])
        raise AlphaVantageTickerError(
            f"Alpha Vantage's answer for {target} has no {expected_key!r} key (it has {keys}): no data for "
            "this symbol. Skipping this ticker.",
            **args,
        )
    return None


# ------------------------------------------------------------------------------------------------- logs


class _RedactApiKeys(logging.Filter):
    """Rewrites log records that carry ``apikey=...`` (urllib3 logs request lines, query string included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_LOG_FILTER = _RedactApiKeys()
_REDACTED_LOGGERS = ("urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "requests")
_log_filter_lock = threading.Lock()


def _install_log_redaction() -> None:
    with _log_filter_lock:
        for name in _REDACTED_LOGGERS:
            target = logging.getLogger(name)
            if _LOG_FILTER not in target.filters:
                target.addFilter(_LOG_FILTER)


# ------------------------------------------------------------------------------------------------- resource


@dataclass
class FetchStats:
    """HTTP attempts made, of which retries, throttle answers seen, and attempts per symbol."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    per_symbol: collections.Counter[str] = field(default_factory=collections.Counter)


class AlphaVantageResource(dg.ConfigurableResource):
    """Alpha Vantage API client (https://www.alphavantage.co/documentation/).

    Every call is rate limited on the client (evenly spaced permits: ``requests_per_minute=75`` means one
    request every 800 ms), retried with exponential backoff and jitter on throttling, HTTP 429/5xx and
    timeouts, and classified: errors come back as ``AlphaVantageTickerError`` (skip this ticker),
    ``AlphaVantageRunError`` (stop the run: key or plan problem) or ``AlphaVantageDailyQuotaError`` (stop for
    today). The API key is read once from the secrets resource and never logged.
    """

    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="Alpha Vantage query endpoint.",
    )
    secrets: SecretsResource = Field(description="Where the API key is read from.")
    api_key_secret_name: str = Field(
        default="alpha-vantage-api-key", description="Name of the secret holding the API key."
    )
    requests_per_minute: float = Field(
        default=75, description="Client-side limit, evenly spaced (premium plans start at 75/min)."
    )
    timeout_seconds: float = Field(default=30, description="Per-request HTTP timeout.")
    max_attempts: int = Field(default=5, description="Attempts per call, first one included.")
    backoff_initial_seconds: float = Field(default=2.0, description="First retry wait (doubles each time).")
    backoff_max_seconds: float = Field(default=60.0, description="Longest single retry wait.")

    _init_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _stats_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _api_key: str | None = PrivateAttr(default=None)
    _url: str | None = PrivateAttr(default=None)
    _limiter: Limiter | None = PrivateAttr(default=None)
    _bucket: InMemoryBucket | None = PrivateAttr(default=None)
    _session: requests.Session | None = PrivateAttr(default=None)
    _stats: FetchStats = PrivateAttr(default_factory=FetchStats)

    # ------------------------------------------------------------------------------------- public API

    def get(self, function: str, symbol: str | None = None, **params: str) -> dict[str, Any]:
        """One logical call: rate limited, retried, classified. Returns the parsed JSON object.

        Raises :class:`AlphaVantageTickerError`, :class:`AlphaVantageRunError` or
        :class:`AlphaVantageDailyQuotaError`; never a ``requests`` exception.
        """
        if any(name.lower() == "apikey" for name in params):
            raise ValueError("Do not pass apikey: the resource adds the key from its secrets resource.")
        url, key = self._endpoint(function, symbol)
        query: dict[str, str] = {"function": function}
        if symbol:
            query["symbol"] = symbol
        query.update(params)
        query["apikey"] = key
        expected = expected_key_for(function, params)
        retrying = Retrying(
            stop=stop_after_attempt(max(1, self.max_attempts)),
            wait=wait_exponential_jitter(
                multiplier=self.backoff_initial_seconds,
                max=self.backoff_max_seconds,
                jitter=self.backoff_initial_seconds,
            ),
            retry=retry_if_exception_type(_Retryable),
            before_sleep=lambda state: self._before_retry(state, function, symbol),
            reraise=False,
        )
        failure: AlphaVantageError | None = None
        try:
            return retrying(self._attempt, url, query, function, symbol, expected, key)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            what = last.what if isinstance(last, _Retryable) else "failing"
            failure = AlphaVantageTickerError(
                f"Alpha Vantage kept {what} for {_target(function, symbol)} after "
                f"{exc.last_attempt.attempt_number} attempts; giving up on this ticker (the others continue).",
                function=function,
                symbol=symbol,
            )
        except AlphaVantageError as exc:
            failure = exc
            if key and key not in PUBLIC_KEYS and key in exc.message:
                failure = type(exc)(redact(exc.message, key), function=exc.function, symbol=exc.symbol)
        # Raised here, outside the except blocks, so no exception that might carry the URL is chained to it.
        raise failure

    @property
    def stats(self) -> FetchStats:
        """A snapshot of this instance's counters."""
        with self._stats_lock:
            return FetchStats(
                requests=self._stats.requests,
                retries=self._stats.retries,
                throttled=self._stats.throttled,
                per_symbol=collections.Counter(self._stats.per_symbol),
            )

    def close(self) -> None:
        """Close the HTTP session and the limiter (a later call opens new ones)."""
        with self._init_lock:
            if self._session is not None:
                self._session.close()
                self._session = None
            if self._limiter is not None:
                self._limiter.close()
                self._limiter = None
                self._bucket = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A nested secrets resource may hold values (StaticSecrets does): show only its type.
        for name, value in super().__repr_args__():
            yield (name, f"<{type(value).__name__}>") if name == "secrets" else (name, value)

    # ------------------------------------------------------------------------------------- internals

    def _endpoint(self, function: str, symbol: str | None) -> tuple[str, str]:
        """(url, key), resolved once (see :meth:`_resolve_endpoint`)."""
        problem: str | None = None
        with self._init_lock:
            if self._api_key is None:
                _install_log_redaction()
                try:
                    self._url, self._api_key = self._resolve_endpoint()
                except SecretNotFoundError as exc:
                    problem = str(exc)
            url, key = self._url, self._api_key
        if problem is not None or url is None or key is None:
            raise AlphaVantageRunError(
                f"The Alpha Vantage API key is not available, so the run stops: {problem}",
                function=function,
                symbol=symbol,
            )
        return url, key

    def _resolve_endpoint(self) -> tuple[str, str]:
        """(url, key) of the endpoint: ``base_url`` and the key from the secrets resource.

        Raises ``SecretNotFoundError`` when the key is not there. A subclass may answer otherwise (the offline
        sample source does, in ``OPS_ENV=local``).
        """
        return self.base_url, self.secrets.get(self.api_key_secret_name).strip()

    def _http(self) -> tuple[requests.Session, Limiter, InMemoryBucket]:
        with self._init_lock:
            if self._session is None:
                self._session = requests.Session()
            if self._limiter is None or self._bucket is None:
                if self.requests_per_minute <= 0:
                    raise ValueError("requests_per_minute must be positive")
                interval_ms = max(1, round(60_000 / self.requests_per_minute))
                # One permit per interval: evenly spaced requests, never a burst. No background leak thread;
                # _acquire trims the bucket itself.
                self._bucket = InMemoryBucket([Rate(1, interval_ms)])
                self._limiter = Limiter(SingleBucketFactory(self._bucket, schedule_leak=False), buffer_ms=0)
            return self._session, self._limiter, self._bucket

    def _attempt(
        self,
        url: str,
        query: dict[str, str],
        function: str,
        symbol: str | None,
        expected: str | None,
        key: str,
    ) -> dict[str, Any]:
        session, limiter, bucket = self._http()
        limiter.try_acquire("alpha-vantage", blocking=True)
        bucket.leak(bucket.now())
        with self._stats_lock:
            self._stats.requests += 1
            self._stats.per_symbol[symbol or function] += 1
        logger.debug("Alpha Vantage GET %s", _target(function, symbol))

        target = _target(function, symbol)
        transient: str | None = None
        other: str | None = None
        response: requests.Response | None = None
        try:
            response = session.get(url, params=query, timeout=self.timeout_seconds)
        except requests.Timeout:
            transient = f"timing out (no answer within {self.timeout_seconds:g} s)"
        except requests.ConnectionError:
            transient = "failing to connect (connection refused or dropped)"
        except requests.RequestException as exc:  # invalid URL, redirects...: not worth retrying
            other = type(exc).__name__
        if transient is not None:
            raise _Retryable(transient)
        if other is not None or response is None:
            raise AlphaVantageTickerError(
                f"The request to Alpha Vantage for {target} failed ({other}); check base_url.",
                function=function,
                symbol=symbol,
            )

        status = response.status_code
        if status == 429:
            self._count_throttled()
            raise _Retryable("answering HTTP 429 (too many requests)", throttled=True)
        if status >= 500:
            raise _Retryable(f"answering HTTP {status}")
        if status != 200:
            raise AlphaVantageTickerError(
                f"Alpha Vantage answered HTTP {status} for {target}. Skipping this ticker (not retried).",
                function=function,
                symbol=symbol,
            )
        body = response.content
        payload: object = None
        parsed = True
        try:
            payload = json.loads(body)
        except ValueError:
            parsed = False
        if not parsed:
            start = body[:200].decode("utf-8", errors="replace")
            raise AlphaVantageTickerError(
                f"Alpha Vantage returned a body that is not JSON for {target}: starts with "
                f"{_snippet(start, key)!r}. Skipping this ticker.",
                function=function,
                symbol=symbol,
            )
        try:
            classify_payload(payload, function=function, symbol=symbol, expected_key=expected)
        except _Retryable as exc:
            if exc.throttled:
                self._count_throttled()
            raise
        assert isinstance(payload, dict)  # classify_payload guarantees it
        return payload

    def _count_throttled(self) -> None:
        with self._stats_lock:
            self._stats.throttled += 1

    def _before_retry(self, state: RetryCallState, function: str, symbol: str | None) -> None:
        with self._stats_lock:
            self._stats.retries += 1
        outcome = state.outcome
        last = outcome.exception() if outcome is not None else None
        what = last.what if isinstance(last, _Retryable) else "failing"
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "Alpha Vantage call %s: %s on attempt %d of %d; retrying in %.2f s",
            _target(function, symbol),
            what,
            state.attempt_number,
            self.max_attempts,
            wait,
        )
