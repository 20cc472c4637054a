"""Working orders from Trading Technologies (TT): one ``GET /v1/orders/working`` per snapshot (seed 004).

:class:`WorkingOrdersSource` is the interface the desk's snapshot talks to: :meth:`~WorkingOrdersSource.fetch`
answers a :class:`WorkingOrdersAnswer` (the orders, the exact bytes received for the bucket's snapshot file,
and when they were fetched) or raises:

- :class:`WorkingOrdersAuthError`: TT refused the credentials (HTTP 401/403), or they are missing or malformed
  in the secret. Not retried: retrying with the same credentials cannot help, and hammering TT with refused
  credentials can get the key locked. Keep the last good orders, mark them stale, alert.
- :class:`WorkingOrdersUnavailableError`: anything else (HTTP 5xx, timeouts and connection failures after the
  bounded retries, other HTTP errors, an answer that is not a list of orders). Keep the last good orders, mark
  them stale; the next snapshot tries again.

:class:`TTWorkingOrdersSource` is the TT implementation. The credentials come from one secret holding JSON
``{"api_key": ..., "api_secret": ...}`` (Secrets Manager ``dev/tt-api`` in AWS, as the seed creates it), read
through any :class:`~resources.secrets.SecretsResource` (in AWS :class:`~resources.secrets.SecretsManagerSecrets`;
:func:`~resources.secrets.read_json_secret` picks the fields out of the JSON). The key and secret travel
only in the ``X-API-KEY`` / ``X-API-SECRET`` headers: never in the URL, logs, errors or ``repr``.

Retries are bounded in attempts *and* time (``deadline_seconds``) so that one snapshot always ends well inside
the 30-second cadence.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import requests
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
from resources.secrets import SecretNotFoundError, SecretsResource, read_json_secret

logger = logging.getLogger(__name__)

DEFAULT_TT_BASE_URL = "https://api.tradingtechnologies.com"
WORKING_ORDERS_PATH = "/v1/orders/working"
DEFAULT_USER_AGENT = "ops-platform-desk-feed/0.1"
REDACTED = "***"
_SNIPPET_CHARS = 200


# ------------------------------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class WorkingOrdersAnswer:
    """One snapshot: ``orders`` as TT sent them (each with an ``order_id``), ``raw`` the exact body received
    (what the bucket's ``orders_snapshot_<epoch>.json`` stores), ``fetched_at`` when the answer came (aware UTC).
    """

    orders: list[dict[str, Any]]
    raw: bytes
    fetched_at: datetime
    attempts: int = 1
    """HTTP requests made for this snapshot (retries included)."""

    @property
    def fetched_epoch(self) -> int:
        """``fetched_at`` in whole epoch seconds (the snapshot file's name and ``last_update:tt:orders``)."""
        return int(self.fetched_at.timestamp())

    def by_order_id(self) -> dict[str, str]:
        """``order_id`` -> the order as compact JSON: the ``tt:orders:active`` hash."""
        return {str(o["order_id"]): json.dumps(o, separators=(",", ":"), sort_keys=True) for o in self.orders}


class WorkingOrdersError(RuntimeError):
    """Base class: the working orders could not be fetched. ``http_status`` is the last one seen, if any."""

    def __init__(self, message: str, *, http_status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.attempts = attempts


class WorkingOrdersAuthError(WorkingOrdersError):
    """The credentials were refused (HTTP 401/403) or are missing/malformed: fix them; retrying will not help."""


class WorkingOrdersUnavailableError(WorkingOrdersError):
    """TT is down, slow, unreachable or answered something unusable: try again at the next snapshot."""


class WorkingOrdersSource(dg.ConfigurableResource):
    """Interface: :meth:`fetch` answers the current working orders or raises a :class:`WorkingOrdersError`."""

    def fetch(self) -> WorkingOrdersAnswer:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------- TT


def _parse_orders(body: bytes) -> list[dict[str, Any]]:
    """The orders of a ``/v1/orders/working`` body: a JSON list (or ``{"orders": [...]}``) of objects, each with
    a non-empty ``order_id``. Raises ``ValueError`` saying what is wrong."""
    try:
        parsed = json.loads(body)
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if isinstance(parsed, dict) and isinstance(parsed.get("orders"), list):
        parsed = parsed["orders"]
    if not isinstance(parsed, list):
        raise ValueError(f"the body is a JSON {type(parsed).__name__}, not a list of orders")
    seen: set[str] = set()
    for number, order in enumerate(parsed, start=1):
        if not isinstance(order, dict):
            raise ValueError(f"order {number} is a JSON {type(order).__name__}, not an object")
        order_id = order.get("order_id")
        if isinstance(order_id, bool) or not isinstance(order_id, str | int) or not str(order_id).strip():
            raise ValueError(f"order {number} has no order_id")
        if str(order_id) in seen:
            raise ValueError(f"order_id {str(order_id)[:40]} appears twice")
        seen.add(str(order_id))
    return parsed


class TTWorkingOrdersSource(WorkingOrdersSource):
    """TT's REST API: ``GET {base_url}/v1/orders/working`` with ``X-API-KEY`` / ``X-API-SECRET``.

    HTTP 5xx, timeouts and connection failures are retried with exponential backoff and jitter, at most
    ``max_attempts`` requests and never starting a wait that would end after ``deadline_seconds``; 401/403 are
    not retried. The credentials are read once per instance (again after a 401/403).
    """

    base_url: str = Field(default=DEFAULT_TT_BASE_URL, description="TT REST API root (the sample server locally).")
    secrets: SecretsResource = Field(description="Where the credentials secret is read from.")
    credentials_secret_name: str = Field(
        default="dev/tt-api", description="Secret holding JSON {api_key, api_secret} (Secrets Manager in AWS)."
    )
    api_key_field: str = Field(default="api_key", description="Field of the secret holding the API key.")
    api_secret_field: str = Field(default="api_secret", description="Field of the secret holding the API secret.")
    timeout_seconds: float = Field(default=5.0, description="Per-request timeout (connect, and each read).")
    max_attempts: int = Field(default=3, description="Requests per snapshot, the first included.")
    backoff_initial_seconds: float = Field(default=0.5, description="First retry wait (doubles each time).")
    backoff_max_seconds: float = Field(default=4.0, description="Longest single retry wait.")
    deadline_seconds: float = Field(
        default=20.0, description="No retry wait starts that would end later than this after the first request."
    )
    max_body_bytes: int = Field(default=20_000_000, description="Larger answers are refused.")
    user_agent: str = Field(default=DEFAULT_USER_AGENT, description="User-Agent header.")

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _sessions: SessionHolder = PrivateAttr(default_factory=SessionHolder)
    _credentials: tuple[str, str] | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------------------------- public API

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + WORKING_ORDERS_PATH

    def fetch(self) -> WorkingOrdersAnswer:
        """The working orders now; raises :class:`WorkingOrdersAuthError` or :class:`WorkingOrdersUnavailableError`."""
        key, secret = self._resolve_credentials()
        headers = {
            "X-API-KEY": key,
            "X-API-SECRET": secret,
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        attempts = 0

        def attempt(number: int) -> WorkingOrdersAnswer:
            nonlocal attempts
            attempts = number
            return self._attempt(headers, number, (key, secret))

        policy = RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_initial_seconds=self.backoff_initial_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            deadline_seconds=self.deadline_seconds,
        )
        failure: WorkingOrdersError | None = None
        try:
            return call_with_retries(attempt, policy, name="TT working orders")
        except RetriesExhausted as exc:
            failure = WorkingOrdersUnavailableError(
                f"TT working orders unavailable: {exc.what} ({exc.attempts} attempt{'s' if exc.attempts != 1 else ''} "
                f"to {self.url}); the last good orders stay in place.",
                http_status=exc.http_status,
                attempts=exc.attempts,
            )
        except WorkingOrdersError as exc:
            failure = exc
            failure.attempts = attempts
        # Raised here, outside the except blocks, so no requests exception is chained to it.
        raise failure

    def close(self) -> None:
        """Close the HTTP session (a later fetch opens a new one)."""
        self._sessions.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A nested secrets resource may hold values (StaticSecrets does): show only its type.
        for name, value in super().__repr_args__():
            yield (name, f"<{type(value).__name__}>") if name == "secrets" else (name, value)

    # ------------------------------------------------------------------------------------- internals

    def _resolve_credentials(self) -> tuple[str, str]:
        with self._lock:
            if self._credentials is not None:
                return self._credentials
        problem: str | None = None
        try:
            values = read_json_secret(
                self.secrets, self.credentials_secret_name, (self.api_key_field, self.api_secret_field)
            )
        except SecretNotFoundError as exc:
            problem = str(exc)
        if problem is not None:
            raise WorkingOrdersAuthError(f"The TT API credentials are not available: {problem}")
        credentials = (values[self.api_key_field], values[self.api_secret_field])
        with self._lock:
            self._credentials = credentials
        return credentials

    def _forget_credentials(self) -> None:
        with self._lock:
            self._credentials = None
        forget = getattr(self.secrets, "forget", None)
        if callable(forget):
            forget(self.credentials_secret_name)

    def _snippet(self, text: str, credentials: tuple[str, str]) -> str:
        flat = " ".join(text.split())[:_SNIPPET_CHARS]
        for value in credentials:
            flat = flat.replace(value, REDACTED)
        return flat

    def _attempt(self, headers: dict[str, str], attempts: int, credentials: tuple[str, str]) -> WorkingOrdersAnswer:
        problem: str | None = None
        try:
            response = get(
                self._sessions.session(), self.url, headers=headers, timeout=self.timeout_seconds, stream=True
            )
        except HTTPRequestError as exc:  # invalid URL and the like: retrying will not help
            problem = f"TT working orders {exc.what}: check base_url {self.base_url}."
        if problem is not None:
            raise WorkingOrdersUnavailableError(problem)
        with response:
            code = response.status_code
            if code in (401, 403):
                self._forget_credentials()
                raise WorkingOrdersAuthError(
                    f"TT refused the API credentials (HTTP {code}) from secret '{self.credentials_secret_name}': "
                    "check that the key and secret are current and allowed to read working orders. Not retried; "
                    "the last good orders stay in place.",
                    http_status=code,
                )
            check_transient_status(response)
            if not 200 <= code < 300:
                hint = {404: " (check base_url)", 429: " (throttled; the next snapshot tries again)"}.get(code, "")
                body = self._snippet(self._peek(response), credentials)
                raise WorkingOrdersUnavailableError(
                    f"TT working orders answered HTTP {code}{hint}{': ' + body if body else ''}; not retried, the "
                    "last good orders stay in place.",
                    http_status=code,
                )
            raw = read_body(
                response,
                max_bytes=self.max_body_bytes,
                timeout=self.timeout_seconds,
                too_large=lambda limit: WorkingOrdersUnavailableError(
                    f"TT working orders answered more than {limit} bytes; refused.", http_status=code
                ),
            )
            fetched_at = datetime.now(UTC)
        try:
            orders = _parse_orders(raw)
        except ValueError as exc:
            raise WorkingOrdersUnavailableError(
                f"TT working orders answered HTTP {code} with an unusable body: {exc}; the last good orders stay "
                "in place.",
                http_status=code,
            ) from None
        return WorkingOrdersAnswer(orders=orders, raw=raw, fetched_at=fetched_at, attempts=attempts)

    @staticmethod
    def _peek(response: requests.Response) -> str:
        """The start of an error body, for the message (never the whole of a possibly huge body)."""
        try:
            head = next(response.iter_content(chunk_size=2 * _SNIPPET_CHARS), b"")
        except (requests.RequestException, StopIteration):
            return ""
        return head.decode("utf-8", "replace") if isinstance(head, bytes) else str(head)
