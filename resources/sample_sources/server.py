"""A local HTTP server that answers like Alpha Vantage's ``/query`` endpoint, from :class:`SampleAlphaVantageData`.

``ThreadingHTTPServer`` on ``127.0.0.1`` and a free port, in a daemon thread; quiet (no request logging).
Key handling follows the real API (every answer is HTTP 200 with a JSON body):

- a missing or empty ``apikey``, or one in ``invalid_keys`` -> the ``INVALID_API_KEY`` body;
- ``demo`` -> only the documentation's examples answer (``IBM`` for the statements, EARNINGS, SPLITS,
  DIVIDENDS, OVERVIEW and TIME_SERIES_*; ``QQQ`` for ETF_PROFILE), everything else the ``DEMO_KEY`` body;
- ``daily_limit=N`` -> from a key's (N+1)-th request of the day on, the ``DAILY_QUOTA(key)`` body;
- ``premium=False`` -> ``outputsize=full`` on TIME_SERIES_DAILY answers ``PREMIUM_OUTPUTSIZE`` and
  TIME_SERIES_DAILY_ADJUSTED answers ``PREMIUM_ENDPOINT``.

Tests script faults with :meth:`AlphaVantageSampleServer.inject` (any body, any status, a delay), and read what
was asked in :attr:`AlphaVantageSampleServer.requests` (the key is never recorded).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from resources.sample_sources.alpha_vantage import DEMO_SYMBOL, SampleAlphaVantageData
from resources.sample_sources.alpha_vantage_bodies import (
    DAILY_QUOTA,
    DEMO_KEY,
    INVALID_API_CALL,
    INVALID_API_KEY,
    PREMIUM_ENDPOINT,
    PREMIUM_OUTPUTSIZE,
)
from resources.sample_sources.local_http import LocalHttpServer, QuietHTTPServer

DEMO_FUNCTIONS = frozenset(
    {
        "INCOME_STATEMENT",
        "BALANCE_SHEET",
        "CASH_FLOW",
        "EARNINGS",
        "SPLITS",
        "DIVIDENDS",
        "OVERVIEW",
        "TIME_SERIES_DAILY",
        "TIME_SERIES_DAILY_ADJUSTED",
        "TIME_SERIES_INTRADAY",
        "TIME_SERIES_WEEKLY",
        "TIME_SERIES_MONTHLY",
    }
)
DEMO_ETF = "QQQ"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; ``params`` never include ``apikey``."""

    function: str
    symbol: str | None
    params: dict[str, str]
    time: float
    """``time.monotonic()`` when the request arrived."""


@dataclass
class _Fault:
    body: bytes
    status: int
    content_type: str
    function: str | None
    symbol: str | None
    remaining: int
    delay_seconds: float

    def matches(self, function: str, symbol: str | None) -> bool:
        return (self.function is None or self.function == function) and (self.symbol is None or self.symbol == symbol)


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    delay_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, indent=4).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections close after a minute
    server: QuietHTTPServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/query":
            self._send(_Answer(404, b"Not Found", "text/plain"))
            return
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        answer = self.server.app.answer(params)
        if answer.delay_seconds > 0:
            time.sleep(answer.delay_seconds)
        self._send(answer)

    def _send(self, answer: _Answer) -> None:
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        return


class AlphaVantageSampleServer(LocalHttpServer):
    """Local Alpha Vantage ``/query`` endpoint over :class:`SampleAlphaVantageData`. A context manager."""

    handler = _Handler
    thread_name = "alpha-vantage-sample"

    def __init__(
        self,
        data: SampleAlphaVantageData | None = None,
        *,
        invalid_keys: frozenset[str] = frozenset({"bad-key"}),
        daily_limit: int | None = None,
        premium: bool = True,
    ) -> None:
        self.data = data if data is not None else SampleAlphaVantageData()
        self.invalid_keys = frozenset(invalid_keys)
        self.daily_limit = daily_limit
        self.premium = premium
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._daily_counts: dict[tuple[str, date], int] = {}

    # ------------------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return self.base_url + "/query"

    # ------------------------------------------------------------------------------------- test helpers

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def inject(
        self,
        body: dict[str, Any] | str | bytes,
        *,
        status: int = 200,
        function: str | None = None,
        symbol: str | None = None,
        times: int = 1,
        delay_seconds: float = 0.0,
    ) -> None:
        """Answer the next ``times`` matching requests with ``body`` (faults are consumed in order).

        A dict is served as JSON; str/bytes are served raw (malformed JSON, an HTML error page).
        ``function``/``symbol`` of ``None`` match any request.
        """
        if isinstance(body, dict):
            raw, content_type = _json(body), "application/json"
        else:
            raw = body.encode() if isinstance(body, str) else body
            content_type = "text/html" if raw.lstrip()[:1] == b"<" else "application/json"
        with self._lock:
            self._faults.append(_Fault(raw, status, content_type, function, symbol, times, delay_seconds))

    def reset(self) -> None:
        """Forget recorded requests, pending faults and daily counts."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._daily_counts.clear()

    # ------------------------------------------------------------------------------------- answering

    def answer(self, params: dict[str, str]) -> _Answer:
        function = params.get("function", "")
        symbol = params.get("symbol") or None
        key = params.get("apikey", "")
        recorded = {k: v for k, v in params.items() if k != "apikey"}
        with self._lock:
            self._requests.append(RecordedRequest(function, symbol, recorded, time.monotonic()))
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(function, symbol):
                    fault.remaining -= 1
                    self._faults = [f for f in self._faults if f.remaining > 0]
                    return _Answer(fault.status, fault.body, fault.content_type, fault.delay_seconds)
            if not key or key in self.invalid_keys:
                return _Answer(200, _json(INVALID_API_KEY))
            if key == "demo" and not self._demo_allows(function, symbol):
                return _Answer(200, _json(DEMO_KEY))
            if self.daily_limit is not None:
                day = (key, date.today())
                self._daily_counts[day] = self._daily_counts.get(day, 0) + 1
                if self._daily_counts[day] > self.daily_limit:
                    return _Answer(200, _json(DAILY_QUOTA(key)))
        if not self.premium:
            if function == "TIME_SERIES_DAILY" and params.get("outputsize") == "full":
                return _Answer(200, _json(PREMIUM_OUTPUTSIZE(function)))
            if function == "TIME_SERIES_DAILY_ADJUSTED":
                return _Answer(200, _json(PREMIUM_ENDPOINT))
        if not function:
            return _Answer(200, _json(INVALID_API_CALL(function)))
        return _Answer(200, self.data.response_bytes(function, recorded))

    @staticmethod
    def _demo_allows(function: str, symbol: str | None) -> bool:
        if function == "ETF_PROFILE":
            return symbol == DEMO_ETF
        return function in DEMO_FUNCTIONS and symbol == DEMO_SYMBOL


def shared_sample_server() -> AlphaVantageSampleServer:
    """The process-wide sample server over the default data, started on first use."""
    return AlphaVantageSampleServer.shared()
