"""A local stand-in for TT's working-orders endpoint (seed 004): ``GET /v1/orders/working``.

:class:`TTOrdersSampleServer` answers the seed's shape, a JSON list of orders, each with an ``order_id``::

    [{"order_id": "100042", "instrument": "ZN", "side": "BUY", "qty": 10, "filled_qty": 3,
      "price": 110.40625, "status": "PARTIALLY_FILLED", ...}, ...]

Instruments are the sample Actant generator's (``resources.sample_sources.actant``): the futures ZN, ZF, ZB, ES
and the ES and ZN options, spelled as its market-data files spell them (``ES 2026-12 C5900``), for the Chicago
day the order was created, at prices a few ticks around that day's opening quote; so a dashboard joining working
orders with ``actant:market:<instrument>`` finds every order's instrument.

Orders are deterministic: order ``i`` of a given ``seed`` is always created at the same time, for the same
instrument, side, size and price, and ends (filled or cancelled) at the same time, so the working set is a pure
function of the server's clock (:meth:`TTOrdersSampleServer.orders_at`). The clock stands still unless the test
moves it (:meth:`~TTOrdersSampleServer.advance`), or follows a real clock when given one (``clock=time.time``).

It checks ``X-API-KEY`` / ``X-API-SECRET`` (HTTP 401 when either is missing or wrong) and, on demand, answers
the next N requests with 401, a 5xx, a body that is not JSON, or not at all until past the client's timeout
(:meth:`~TTOrdersSampleServer.refuse_next`, :meth:`~TTOrdersSampleServer.fail_next`,
:meth:`~TTOrdersSampleServer.garble_next`, :meth:`~TTOrdersSampleServer.hang_next`). Credentials are compared,
never recorded.
"""

from __future__ import annotations

import hmac
import json
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from resources.sample_sources.actant import SAMPLE_ACCOUNTS, SAMPLE_TIMEZONE, sample_reference_quotes
from resources.sample_sources.local_http import LocalHttpServer, QuietHTTPServer

WORKING_ORDERS_PATH = "/v1/orders/working"
_CHICAGO = ZoneInfo(SAMPLE_TIMEZONE)

SAMPLE_TT_API_KEY = "sample-tt-api-key"
SAMPLE_TT_API_SECRET = "sample-tt-api-secret"
SAMPLE_TT_CREDENTIALS_JSON = json.dumps({"api_key": SAMPLE_TT_API_KEY, "api_secret": SAMPLE_TT_API_SECRET})
"""What the sample's credentials secret holds (the ``dev/tt-api`` shape)."""

SAMPLE_TT_START = 1_795_185_000
"""2026-11-20 14:30:00 UTC (08:30 in Chicago): the sample clock's default start, the Actant sample's default day
(:data:`~resources.sample_sources.actant.SAMPLE_DESK_DAY`)."""

ORDER_SPACING_SECONDS = 9
"""A new order every 9 s (plus up to 8 s of jitter): about 35 orders working at any time."""
MIN_LIFETIME_SECONDS = 20
MAX_LIFETIME_SECONDS = 600
WARMUP_SECONDS = MAX_LIFETIME_SECONDS
"""Orders start arriving this long before ``start``, so the book is already populated at ``start``."""


@dataclass(frozen=True)
class SampleInstrument:
    symbol: str
    price: float
    tick: float


@lru_cache(maxsize=32)
def sample_tt_instruments(day: date) -> tuple[SampleInstrument, ...]:
    """The instruments orders are placed in on ``day`` (Chicago): the Actant sample's, at its opening quotes."""
    return tuple(
        SampleInstrument(symbol, float(price), float(tick))
        for symbol, (price, tick) in sample_reference_quotes(day).items()
    )


def _chicago_day(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, _CHICAGO).date()


ACCOUNTS = SAMPLE_ACCOUNTS
QUANTITIES = (1, 2, 5, 10, 20, 50)


@dataclass(frozen=True)
class _Order:
    index: int
    order_id: str
    instrument: SampleInstrument
    account: str
    side: str
    qty: int
    price: float
    created_at: int
    ends_at: int
    outcome: str  # "FILLED" or "CANCELLED"
    filled_at_end: int

    def working_at(self, t: float) -> bool:
        return self.created_at <= t < self.ends_at

    def as_json(self, t: float) -> dict[str, Any]:
        # Lots fill evenly along the order's life; a filled order's last lot fills as it ends (and leaves).
        life = self.ends_at - self.created_at
        filled = math.floor(self.filled_at_end * (t - self.created_at) / life)
        updated = self.created_at + (math.ceil(filled * life / self.filled_at_end) if filled else 0)
        return {
            "order_id": self.order_id,
            "account": self.account,
            "instrument": self.instrument.symbol,
            "side": self.side,
            "order_type": "LIMIT",
            "price": self.price,
            "qty": self.qty,
            "filled_qty": filled,
            "status": "PARTIALLY_FILLED" if filled else "WORKING",
            "time_in_force": "DAY",
            "created_at": self.created_at,
            "updated_at": min(updated, int(t)),
        }


def _order(seed: int, start: int, index: int, day: date | None = None) -> _Order:
    rng = random.Random(f"tt-orders:{seed}:{index}")
    created_at = start - WARMUP_SECONDS + index * ORDER_SPACING_SECONDS + rng.randint(0, 8)
    instrument = rng.choice(sample_tt_instruments(day or _chicago_day(created_at)))
    side = rng.choice(("BUY", "SELL"))
    ticks = rng.randint(1, 40)
    price = instrument.price - ticks * instrument.tick if side == "BUY" else instrument.price + ticks * instrument.tick
    # An option bid never goes below one tick.
    price = max(price, instrument.tick)
    qty = rng.choice(QUANTITIES)
    lifetime = rng.randint(MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS)
    outcome = "FILLED" if rng.random() < 0.6 else "CANCELLED"
    filled_at_end = qty if outcome == "FILLED" else rng.randint(0, qty // 2)
    return _Order(
        index=index,
        order_id=str(100_000 + index),
        instrument=instrument,
        account=rng.choice(ACCOUNTS),
        side=side,
        qty=qty,
        price=round(price, 8),
        created_at=created_at,
        ends_at=created_at + lifetime,
        outcome=outcome,
        filled_at_end=filled_at_end,
    )


def sample_orders_at(
    t: float, *, seed: int = 0, start: int = SAMPLE_TT_START, day: date | None = None
) -> list[dict[str, Any]]:
    """The working orders at epoch ``t``, oldest first (what the server answers at that time).

    Instruments: those of the Actant sample on ``day``, else on the Chicago day each order was created.
    """
    first = max(0, math.floor((t - start + WARMUP_SECONDS - MAX_LIFETIME_SECONDS - 8) / ORDER_SPACING_SECONDS))
    last = math.floor((t - start + WARMUP_SECONDS) / ORDER_SPACING_SECONDS)
    orders = (_order(seed, start, i, day) for i in range(first, last + 1))
    return [o.as_json(t) for o in orders if o.working_at(t)]


def sample_order_history(
    t0: float, t1: float, *, seed: int = 0, start: int = SAMPLE_TT_START, day: date | None = None
) -> dict[str, str]:
    """``order_id`` -> ``"FILLED"`` / ``"CANCELLED"`` for the orders that end in ``[t0, t1)`` (test oracle)."""
    first = max(0, math.floor((t0 - start + WARMUP_SECONDS - MAX_LIFETIME_SECONDS - 8) / ORDER_SPACING_SECONDS))
    last = math.floor((t1 - start + WARMUP_SECONDS) / ORDER_SPACING_SECONDS)
    ended = (_order(seed, start, i, day) for i in range(first, last + 1))
    return {o.order_id: o.outcome for o in ended if t0 <= o.ends_at < t1}


@dataclass(frozen=True)
class RecordedOrdersRequest:
    """One request as the server saw it (whether the credentials matched, never their values)."""

    path: str
    status: int
    has_api_key: bool
    has_api_secret: bool
    credentials_ok: bool
    clock: float
    """The server's clock (epoch seconds) when the request arrived."""


@dataclass
class _Fault:
    kind: str  # "status", "hang" or "garble"
    status: int
    remaining: int
    seconds: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections close after a minute
    server: QuietHTTPServer

    def do_GET(self) -> None:
        status, body = self.server.app.answer(
            urlsplit(self.path).path, self.headers.get("X-API-KEY"), self.headers.get("X-API-SECRET")
        )
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        return


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


class TTOrdersSampleServer(LocalHttpServer):
    """Local ``GET /v1/orders/working`` over deterministic orders (a context manager).

    ``start``: the clock's initial epoch seconds; ``clock``: a real clock to follow instead (e.g. ``time.time``;
    :meth:`advance` then adds an offset to it). ``seed`` picks another, equally deterministic order flow.
    ``instruments_day``: order in the Actant sample's instruments of that day (e.g. the day whose sample files a
    demo drops, so option names match past their expiry), else of each order's own Chicago day.
    """

    handler = _Handler
    thread_name = "tt-orders-sample"

    def __init__(
        self,
        *,
        api_key: str = SAMPLE_TT_API_KEY,
        api_secret: str = SAMPLE_TT_API_SECRET,
        seed: int = 0,
        start: int = SAMPLE_TT_START,
        clock: Callable[[], float] | None = None,
        instruments_day: date | None = None,
    ) -> None:
        self.seed = seed
        self.instruments_day = instruments_day
        self.start_epoch = start
        self._api_key = api_key.encode()
        self._api_secret = api_secret.encode()
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.Lock()
        self._requests: list[RecordedOrdersRequest] = []
        self._faults: list[_Fault] = []
        self._stopping = threading.Event()

    # ------------------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return self.base_url + WORKING_ORDERS_PATH

    def stop(self) -> None:
        self._stopping.set()  # ends any hanging answer at once
        super().stop()
        self._stopping = threading.Event()

    # ------------------------------------------------------------------------------------- clock

    @property
    def now(self) -> float:
        """The server's clock, epoch seconds."""
        with self._lock:
            return self._now()

    def advance(self, seconds: float) -> float:
        """Move the clock forward (orders appear, fill and get cancelled); returns the new time."""
        if seconds < 0:
            raise ValueError("the sample clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self._now()

    def orders_at(self, t: float | None = None) -> list[dict[str, Any]]:
        """The working orders at ``t`` (default: now), as the endpoint answers them."""
        return sample_orders_at(
            self.now if t is None else t, seed=self.seed, start=self.start_epoch, day=self.instruments_day
        )

    # ------------------------------------------------------------------------------------- switches

    def refuse_next(self, times: int = 1, *, status: int = 401) -> None:
        """Answer the next ``times`` requests with 401 (or 403), whatever the credentials."""
        self._add(_Fault("status", status, times))

    def fail_next(self, times: int = 1, *, status: int = 503) -> None:
        """Answer the next ``times`` requests with a 5xx (or any other status)."""
        self._add(_Fault("status", status, times))

    def hang_next(self, times: int = 1, *, seconds: float = 10.0) -> None:
        """Hold the next ``times`` requests for ``seconds`` (past the client's timeout) before answering."""
        self._add(_Fault("hang", 200, times, seconds))

    def garble_next(self, times: int = 1) -> None:
        """Answer the next ``times`` requests (with good credentials) HTTP 200 and a body that is not JSON."""
        self._add(_Fault("garble", 200, times))

    def reset(self) -> None:
        """Forget recorded requests and pending faults (the clock stays)."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedOrdersRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    # ------------------------------------------------------------------------------------- answering

    def answer(self, path: str, api_key: str | None, api_secret: str | None) -> tuple[int, bytes]:
        key_ok = api_key is not None and hmac.compare_digest(api_key.encode(), self._api_key)
        secret_ok = api_secret is not None and hmac.compare_digest(api_secret.encode(), self._api_secret)
        with self._lock:
            t = self._now()
            fault = self._faults[0] if self._faults and path == WORKING_ORDERS_PATH else None
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.pop(0)
        if path != WORKING_ORDERS_PATH:
            status, body = 404, _error(f"no such endpoint: {path[:80]}")
        elif fault is not None and fault.kind == "status":
            status, body = fault.status, _error(f"sample fault: HTTP {fault.status}")
        elif not (key_ok and secret_ok):
            status, body = 401, _error("invalid API key or secret")
        else:
            status, body = 200, b""
        with self._lock:
            ok = key_ok and secret_ok
            self._requests.append(
                RecordedOrdersRequest(path, status, api_key is not None, api_secret is not None, ok, t)
            )
        if fault is not None and fault.kind == "hang":  # answer late (the client has usually given up by then)
            self._stopping.wait(fault.seconds)
        if status == 200:
            garbled = fault is not None and fault.kind == "garble"
            body = b"<html>upstream gateway</html>" if garbled else json.dumps(self.orders_at()).encode()
        return status, body

    def _add(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _now(self) -> float:
        base = self._clock() if self._clock is not None else float(self.start_epoch)
        return base + self._offset
