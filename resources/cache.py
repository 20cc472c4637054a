"""The trading desk's Redis: the latest market data and working orders the FRGM dashboard reads (seed 004).

Keys (the dashboard's contract, names as in the seed; every key is prefixed with ``key_prefix``, empty in
production, unique per test):

===================================  ======  ==============================================================
key                                  type    content
===================================  ======  ==============================================================
``actant:market:<instrument>``       hash    ``price``, ``bid``, ``ask``, ``volume`` (as the file wrote them),
                                             ``timestamp`` (the data's own epoch seconds), ``arrived`` (epoch
                                             seconds the file arrived)
``last_update:actant:market``        string  epoch seconds of the latest market-data file applied
``tt:orders:active``                 hash    order id -> order JSON (the last good TT snapshot)
``last_update:tt:orders``            string  epoch seconds of that snapshot
``tt:orders:stale``                  string  ``{"since": <epoch>, "reason": "..."}`` while TT calls fail
``tt:orders:empty``                  string  epoch seconds of a snapshot that held no working orders
``desk:processed:<key>:<etag>``      string  ``1``, 7-day TTL: this object version was applied
===================================  ======  ==============================================================

How the dashboard reads orders: ``HGETALL tt:orders:active``. Redis has no empty hash, so an empty answer
means either "TT reported no working orders" or "no snapshot was ever written": ``GET last_update:tt:orders``
tells them apart (unset: never written; set: no orders as of that time, and ``tt:orders:empty`` holds the same
time, explicitly). ``tt:orders:stale`` set means the orders shown are the last good ones, from before ``since``.
:meth:`RedisCache.read_orders` does exactly that, in one MULTI/EXEC, for Python readers.

Guarantees:

- **One file, one atomic update.** :meth:`RedisCache.apply_market_update` sends each file as one Lua script
  call (one round trip) whose rows travel as ONE JSON argument, decoded inside Redis with ``cjson``: Redis runs
  a script atomically, so a reader sees all of a file's instruments or none, and "is the ``desk:processed``
  marker there? then write" cannot race with a second delivery of the same S3 event. The script checks every
  row and reads every instrument's stored ``timestamp`` before it writes anything (Redis does not roll a script
  back), so a malformed row or a key of the wrong type aborts it with nothing written. Lua rather than WATCH:
  no optimistic retry loop under load.
- **Idempotent.** The marker ``desk:processed:<object key>:<etag>`` is set in the same script; a second call
  for the same object version applies nothing and answers ``False``. A client retry after a lost reply is
  therefore safe too.
- **Newest wins.** An instrument's hash is written only when the row's ``timestamp`` is at least the stored
  one, so a late or replayed older file never rolls prices back (its other instruments still apply);
  ``last_update:actant:market`` never goes backwards either. File order alone would not be enough: S3 events
  are delivered at least once and out of order, and replays/backfills re-send old files.
- **Orders replaced atomically.** :meth:`RedisCache.replace_orders` builds the new hash under a private staging
  key (pipelined ``HSET``), then one script ``RENAME``s it over ``tt:orders:active`` and stamps
  ``last_update:tt:orders``: readers see the old set or the new one, never a missing or half-built hash. A
  snapshot older than the stored one is dropped. A failed TT call keeps the last good orders
  (:meth:`RedisCache.mark_orders_stale`).

Redis must run with cluster mode **disabled** (a standalone server, or ElastiCache for Redis/Valkey with cluster
mode disabled): one file's update spans instrument keys in many hash slots, which a cluster refuses in one
atomic call (``CROSSSLOT``). The resource checks this on first use and says so instead of failing every write.

One ``redis.Redis`` client (one connection pool) per process, connection settings and credentials, shared by
every resource instance that has them (``key_prefix`` aside). The password comes from the secrets resource
(a ``dev/redis``-style secret: ``{"auth_token": ...}``, ``{"username": ..., "password": ...}`` or the bare
password), is read once per resource instance (again after Redis refuses it), is never logged, never shown by
``repr`` and is scrubbed from error messages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import dagster as dg
import redis
from pydantic import Field, PrivateAttr
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from resources.secrets import SecretNotFoundError, SecretsResource

logger = logging.getLogger(__name__)

MARKET_KEY_PREFIX = "actant:market:"
MARKET_LAST_UPDATE_KEY = "last_update:actant:market"
ORDERS_ACTIVE_KEY = "tt:orders:active"
ORDERS_LAST_UPDATE_KEY = "last_update:tt:orders"
ORDERS_STALE_KEY = "tt:orders:stale"
ORDERS_EMPTY_KEY = "tt:orders:empty"
ORDERS_STAGING_KEY = "tt:orders:active:next"
"""Staging keys are ``tt:orders:active:next:<random>``: one per call, so two overlapping snapshots never mix."""
PROCESSED_KEY_PREFIX = "desk:processed:"

MARKET_FIELDS = ("price", "bid", "ask", "volume")
"""The row fields copied into ``actant:market:<instrument>`` besides ``timestamp`` and ``arrived``."""

PROCESSED_TTL_SECONDS = 7 * 24 * 3600
STAGING_TTL_SECONDS = 600
"""A staging hash left behind by a process that died between build and swap expires after this."""
MAX_STALE_REASON_CHARS = 500
_HSET_CHUNK = 1000

LOCAL_START_COMMAND = 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port {port} --save "" --appendonly no'
"""How to start the local Redis (``.format(port=...)``): no persistence, loopback only."""
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class RedisCacheError(RuntimeError):
    """Base class of this module's errors (also: Redis refused a command, e.g. a key of the wrong type)."""


class RedisUnavailableError(RedisCacheError):
    """Redis cannot be used: down, unreachable, timed out, or the credentials were refused or are missing."""


class RedisClusterModeError(RedisCacheError):
    """The server runs in cluster mode, which cannot apply one file's instruments atomically."""


# ---------------------------------------------------------------------------------------------------- scripts

# KEYS: marker, last_update, then one hash per instrument. ARGV: marker TTL, last_update, arrived, rows: ONE JSON
# array with, per instrument key in KEYS order, [timestamp, price, bid, ask, volume] (strings). One JSON argument
# instead of five per row: encoding ~50,000 separate arguments was most of the call's time in the client.
# Everything is checked (and every stored timestamp read) before the first write: Redis does not roll a script
# back, so a malformed row must abort it while nothing is written yet. Returns {applied (0/1), written, kept}.
_MARKET_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, 0, 0}
end
local n = #KEYS - 2
local function refuse(message)
  return redis.error_reply('ERR desk market update refused, nothing written: ' .. message)
end
if tonumber(ARGV[1]) == nil or tonumber(ARGV[2]) == nil or tonumber(ARGV[3]) == nil then
  return refuse('marker TTL, last_update and arrived must be numbers')
end
local ok, rows = pcall(cjson.decode, ARGV[4])
if not ok or type(rows) ~= 'table' then
  return refuse('the rows argument is not a JSON array')
end
if #rows ~= n then
  return refuse(#rows .. ' rows for ' .. n .. ' instrument keys')
end
local write = {}
for i = 1, n do
  local r = rows[i]
  if type(r) ~= 'table' or #r ~= 5 then
    return refuse('row ' .. i .. ' is not [timestamp, price, bid, ask, volume]')
  end
  for j = 1, 5 do
    if type(r[j]) ~= 'string' then
      return refuse('row ' .. i .. ' field ' .. j .. ' is not a string')
    end
  end
  local ts = tonumber(r[1])
  if ts == nil then
    return refuse('row ' .. i .. ' timestamp is not a number')
  end
  local stored = tonumber(redis.call('HGET', KEYS[i + 2], 'timestamp'))
  write[i] = stored == nil or ts >= stored
end
local written = 0
for i = 1, n do
  if write[i] then
    local r = rows[i]
    redis.call('HSET', KEYS[i + 2], 'price', r[2], 'bid', r[3], 'ask', r[4], 'volume', r[5], 'timestamp', r[1],
      'arrived', ARGV[3])
    written = written + 1
  end
end
local last = tonumber(redis.call('GET', KEYS[2]))
if last == nil or tonumber(ARGV[2]) > last then
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return {1, written, n - written}
"""

# KEYS: staging, active, last_update, stale, empty. ARGV: at, number of orders. Returns 1 (swapped) or 0 (older).
_SWAP_ORDERS_SCRIPT = """
local last = tonumber(redis.call('GET', KEYS[3]))
if last ~= nil and tonumber(ARGV[1]) < last then
  redis.call('DEL', KEYS[1])
  return 0
end
if tonumber(ARGV[2]) > 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PERSIST', KEYS[2])
  redis.call('DEL', KEYS[5])
else
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('SET', KEYS[5], ARGV[1])
end
redis.call('SET', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
"""

# KEYS: stale. ARGV: at, reason. Keeps the first failure's "since" while the failures go on.
_MARK_STALE_SCRIPT = """
local since = tonumber(ARGV[1])
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded['since']) ~= nil then
    since = tonumber(decoded['since'])
  end
end
local value = cjson.encode({since = since, reason = ARGV[2]})
redis.call('SET', KEYS[1], value)
return value
"""


# ---------------------------------------------------------------------------------------------------- readers


@dataclass(frozen=True)
class OrdersView:
    """What the dashboard shows for working orders, read in one MULTI/EXEC.

    ``state``: ``"orders"`` (``orders`` holds them), ``"empty"`` (TT reported none as of ``last_update``) or
    ``"never_written"``. ``stale`` is ``{"since": epoch, "reason": str}`` while TT calls fail (the orders are
    then the last good ones), else ``None``.
    """

    state: Literal["orders", "empty", "never_written"]
    orders: dict[str, str]
    last_update: int | None
    stale: dict[str, Any] | None


# ---------------------------------------------------------------------------------------------------- clients

_clients: dict[tuple[Any, ...], redis.Redis] = {}
_checked: set[tuple[Any, ...]] = set()
_clients_lock = threading.Lock()


def close_all_clients() -> None:
    """Disconnect every client this process opened (tests, shutdown); the next call opens new ones."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
        _checked.clear()
    for client in clients:
        client.connection_pool.disconnect()


def _epoch(value: object, what: str) -> int:
    """Whole epoch seconds from an int or a numeric string (``"1705320000"``, ``"1705320000.0"``)."""
    if isinstance(value, bool):
        raise ValueError(f"{what} is not epoch seconds: {value!r}")
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} is not epoch seconds: {str(value)[:40]!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{what} is not whole epoch seconds: {str(value)[:40]!r}")
    return int(number)


def _etag(etag: str) -> str:
    """An S3 ETag without its quotes (``"abc"`` and ``abc`` name the same object version)."""
    return str(etag).strip().strip('"')


def _text(value: object) -> str:
    """A field value as Redis stores it: ``None`` and NaN become ``""`` (unknown), everything else ``str``."""
    if type(value) is str:  # the common case, first
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _credentials(raw: str) -> tuple[str | None, str]:
    """(username, password) from a secret: ``{"auth_token"}``, ``{"username", "password"}`` or the bare value."""
    value = raw.strip()
    if value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            password = parsed.get("password") or parsed.get("auth_token")
            if not isinstance(password, str) or not password:
                raise ValueError("it is a JSON object without a non-empty 'password' or 'auth_token'")
            username = parsed.get("username")
            return (username if isinstance(username, str) and username else None), password
    if not value:
        raise ValueError("it is empty")
    return None, value


class RedisCache(dg.ConfigurableResource):
    """The desk's Redis: atomic, idempotent market updates and order snapshots in the dashboard's key layout.

    Raises :class:`RedisUnavailableError` (down, unreachable, timed out, credentials refused or missing: the
    message says what to do), :class:`RedisClusterModeError` (a cluster-mode endpoint) or
    :class:`RedisCacheError` (Redis refused a command); ``ValueError`` for malformed input, before any write.
    """

    host: str = Field(default="127.0.0.1", description="Redis host (the primary endpoint in AWS).")
    port: int = Field(default=6379, description="Redis port.")
    db: int = Field(default=0, description="Database number.")
    tls: bool = Field(default=False, description="Connect with TLS (required by ElastiCache/MemoryDB in transit).")
    tls_ca_certs: str | None = Field(
        default=None, description="CA bundle to verify the server with (default: the system's trust store)."
    )
    username: str | None = Field(
        default=None, description="ACL user name, unless the secret names one (None: the default user)."
    )
    secrets: SecretsResource | None = Field(
        default=None, description="Where the password is read from (None: no AUTH, e.g. a local Redis)."
    )
    password_secret_name: str | None = Field(
        default=None,
        description="Secret holding the password: the bare value, {'auth_token': ...} or {'username', 'password'}.",
    )
    socket_timeout_seconds: float = Field(default=2.0, description="Per-command socket timeout.")
    socket_connect_timeout_seconds: float = Field(default=2.0, description="TCP/TLS connect timeout.")
    retries: int = Field(default=2, description="Client retries on a dropped connection or timeout (bounded).")
    max_connections: int = Field(default=64, description="Connection pool size (per process).")
    key_prefix: str = Field(
        default="", description="Prefix of every key (empty in production; tests use a unique one)."
    )

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _scripts: dict[str, Any] = PrivateAttr(default_factory=dict)
    _resolved: tuple[str | None, str | None] | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------------------------- public API

    def key(self, name: str) -> str:
        """The full key for a contract name (``key("tt:orders:active")``), i.e. with ``key_prefix``."""
        return f"{self.key_prefix}{name}"

    def market_key(self, instrument: str) -> str:
        return self.key(f"{MARKET_KEY_PREFIX}{instrument}")

    def processed_key(self, source_key: str, etag: str) -> str:
        return self.key(f"{PROCESSED_KEY_PREFIX}{source_key}:{_etag(etag)}")

    def ping(self) -> float:
        """Round trip to Redis in seconds; raises :class:`RedisUnavailableError` (saying how to fix it)."""
        with self._errors("a PING"):
            client = self._client()
            started = time.perf_counter()
            client.ping()
            return time.perf_counter() - started

    def apply_market_update(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        last_update: int,
        source_key: str,
        etag: str,
        arrived: int | None = None,
    ) -> bool:
        """Apply one market-data file: every instrument's latest row, atomically and at most once.

        ``rows``: mappings with ``instrument``, ``timestamp`` (the data's own epoch seconds), ``price`` and
        optionally ``bid``, ``ask``, ``volume`` (missing ones are stored as ``""``). When an instrument has
        several rows, the one with the highest ``timestamp`` wins (the later one in the file on a tie).
        ``last_update``: what ``last_update:actant:market`` shows (the file's arrival/processing epoch; it never
        goes backwards). ``arrived``: stored as each hash's ``arrived`` (default ``last_update``).
        ``source_key`` + ``etag`` identify the object version (S3 key and ETag, quotes optional).

        Returns ``False`` when this key + etag was already applied (nothing is written), ``True`` otherwise, even
        if some instruments kept newer stored values.
        """
        if not source_key or not _etag(etag):
            raise ValueError("apply_market_update needs the object's source_key and etag (the idempotency key).")
        last_update = _epoch(last_update, "last_update")
        arrived = last_update if arrived is None else _epoch(arrived, "arrived")
        latest: dict[str, tuple[int, Mapping[str, Any]]] = {}
        for number, row in enumerate(rows, start=1):
            instrument = _text(row.get("instrument")).strip()
            if not instrument:
                raise ValueError(f"{source_key}: row {number} has no instrument.")
            ts = _epoch(row.get("timestamp"), f"{source_key}: row {number} ({instrument}) timestamp")
            kept = latest.get(instrument)
            if kept is None or ts >= kept[0]:
                latest[instrument] = (ts, row)
        keys = [self.processed_key(source_key, etag), self.key(MARKET_LAST_UPDATE_KEY)]
        keys.extend(self.market_key(instrument) for instrument in latest)
        text = _text  # spelled out per field, no inner generator: this loop runs once per instrument
        packed = json.dumps(
            [
                [str(ts), text(row.get("price")), text(row.get("bid")), text(row.get("ask")), text(row.get("volume"))]
                for ts, row in latest.values()
            ],
            separators=(",", ":"),
        )
        args: list[str | int] = [PROCESSED_TTL_SECONDS, last_update, arrived, packed]
        with self._errors(f"the market update from {source_key}"):
            client = self._client()
            script = self._script("market", _MARKET_SCRIPT, client)
            applied, written, kept = script(keys=keys, args=args, client=client)
        if not applied:
            logger.info("market update %s (etag %s) was already applied; nothing written", source_key, etag)
            return False
        if kept:
            logger.info(
                "market update %s: %d of %d instruments kept newer stored values", source_key, kept, written + kept
            )
        return True

    def replace_orders(self, orders: Mapping[str, str], *, at: int) -> bool:
        """Replace ``tt:orders:active`` with ``orders`` (id -> order JSON) as of ``at``, atomically.

        Also sets ``last_update:tt:orders`` and clears ``tt:orders:stale``. No orders: the hash is deleted and
        ``tt:orders:empty`` set to ``at`` (see the module docstring for how readers tell "none" from "never").
        Returns ``False`` (and changes nothing) when a newer snapshot is already stored.
        """
        at = _epoch(at, "at")
        staging = self.key(f"{ORDERS_STAGING_KEY}:{uuid.uuid4().hex}")
        items = [(str(field), _text(value)) for field, value in orders.items()]
        with self._errors("the working-orders snapshot"):
            client = self._client()
            if items:
                pipe = client.pipeline(transaction=False)
                pipe.delete(staging)
                for start in range(0, len(items), _HSET_CHUNK):
                    pipe.hset(staging, mapping=dict(items[start : start + _HSET_CHUNK]))
                pipe.expire(staging, STAGING_TTL_SECONDS)
                pipe.execute()
            keys = [
                staging,
                self.key(ORDERS_ACTIVE_KEY),
                self.key(ORDERS_LAST_UPDATE_KEY),
                self.key(ORDERS_STALE_KEY),
                self.key(ORDERS_EMPTY_KEY),
            ]
            script = self._script("swap", _SWAP_ORDERS_SCRIPT, client)
            swapped = script(keys=keys, args=[at, len(items)], client=client)
        if not swapped:
            logger.warning("working-orders snapshot of %d is older than the stored one; not applied", at)
        return bool(swapped)

    def mark_orders_stale(self, reason: str, *, at: int) -> None:
        """Keep the last good orders and set ``tt:orders:stale`` to ``{"since", "reason"}``.

        ``since`` stays the first failure's ``at`` while failures go on; ``reason`` is the latest (put no
        credentials in it; it is cut to :data:`MAX_STALE_REASON_CHARS`). The next :meth:`replace_orders` clears it.
        """
        at = _epoch(at, "at")
        reason = " ".join(str(reason).split())[:MAX_STALE_REASON_CHARS]
        with self._errors("the stale marker for working orders"):
            client = self._client()
            script = self._script("stale", _MARK_STALE_SCRIPT, client)
            script(keys=[self.key(ORDERS_STALE_KEY)], args=[at, reason], client=client)

    def read_market(self, instrument: str) -> dict[str, str]:
        """``HGETALL actant:market:<instrument>`` (``{}`` when never written)."""
        with self._errors(f"a read of {instrument}"):
            return dict(self._client().hgetall(self.market_key(instrument)))

    def read_orders(self) -> OrdersView:
        """The working orders as the dashboard should show them (one consistent MULTI/EXEC read)."""
        with self._errors("a read of the working orders"):
            pipe = self._client().pipeline(transaction=True)
            pipe.hgetall(self.key(ORDERS_ACTIVE_KEY))
            pipe.get(self.key(ORDERS_LAST_UPDATE_KEY))
            pipe.get(self.key(ORDERS_STALE_KEY))
            orders, last, stale = pipe.execute()
        last_update = int(last) if last is not None else None
        try:
            stale_value = json.loads(stale) if stale is not None else None
        except ValueError:
            stale_value = {"since": None, "reason": stale}
        state: Literal["orders", "empty", "never_written"]
        state = "orders" if orders else ("empty" if last_update is not None else "never_written")
        return OrdersView(state=state, orders=dict(orders), last_update=last_update, stale=stale_value)

    def client(self) -> redis.Redis:
        """This process's client for these settings (``decode_responses=True``), checked once for cluster mode.

        Raises :class:`RedisUnavailableError` / :class:`RedisClusterModeError` like the other methods; commands
        sent on the client itself raise redis-py's exceptions.
        """
        with self._errors("a connection"):
            return self._client()

    def _client(self) -> redis.Redis:
        key = self._client_key()
        with _clients_lock:
            client = _clients.get(key)
        if client is None:
            username, password = self._credentials()
            client = self._new_client(username, password)
            with _clients_lock:
                client = _clients.setdefault(key, client)
        if key not in _checked:
            self._check_not_cluster(client)
            with _clients_lock:
                _checked.add(key)
        return client

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A nested secrets resource may hold values (StaticSecrets does): show only its type.
        for name, value in super().__repr_args__():
            yield (name, f"<{type(value).__name__}>") if name == "secrets" and value is not None else (name, value)

    # ------------------------------------------------------------------------------------- internals

    def _where(self) -> str:
        return f"Redis at {self.host}:{self.port} (db {self.db}{', TLS' if self.tls else ''})"

    def _advice(self) -> str:
        if self.host in _LOOPBACK:
            return (
                f"Start it with `{LOCAL_START_COMMAND.format(port=self.port)}` and check it with "
                f"`redis-cli -p {self.port} ping`, then run again."
            )
        secret = f" and the secret '{self.password_secret_name}'" if self.password_secret_name else ""
        return (
            "Check that the endpoint is right and reachable from here (security group, subnet), that `tls` matches "
            f"the server's in-transit encryption, and the credentials{secret}; then run again."
        )

    def _scrub(self, text: str) -> str:
        # Redis never echoes the password, but an error message is no place to find out otherwise.
        password = self._resolved[1] if self._resolved is not None else None
        if password and len(password) >= 6:  # a shorter one would scrub ordinary words
            text = text.replace(password, "***")
        return " ".join(text.split())[:300]

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        # Raised outside the except blocks, so no redis exception (with its connection details) is chained.
        failure: RedisCacheError | None = None
        try:
            yield
        except redis.AuthenticationError as exc:
            secret = f" in the secret '{self.password_secret_name}'" if self.password_secret_name else ""
            failure = RedisUnavailableError(
                f"{self._where()} refused the credentials for {what} ({self._scrub(str(exc)).rstrip('.')}): check "
                f"the user name and password{secret} against the server's AUTH/ACL settings, then run again."
            )
            self._forget_client()  # the next call reads the secret again (it may have been rotated)
        except (redis.ConnectionError, redis.TimeoutError, TimeoutError, OSError) as exc:
            detail = self._scrub(str(exc)).rstrip(".") or type(exc).__name__
            failure = RedisUnavailableError(f"{self._where()} is unavailable for {what}: {detail}. {self._advice()}")
        except redis.ResponseError as exc:
            failure = RedisCacheError(f"{self._where()} refused {what}: {self._scrub(str(exc))}")
        except redis.RedisError as exc:  # e.g. something that is not Redis answered on that port
            detail = self._scrub(str(exc)).rstrip(".") or type(exc).__name__
            failure = RedisUnavailableError(
                f"{self._where()} did not answer like Redis for {what} ({detail}): is that the Redis endpoint? "
                f"{self._advice()}"
            )
        if failure is not None:
            raise failure

    def _client_key(self) -> tuple[Any, ...]:
        username, password = self._credentials()
        return (
            os.getpid(),
            self.host,
            self.port,
            self.db,
            self.tls,
            self.tls_ca_certs,
            username,
            hashlib.sha256(password.encode()).hexdigest() if password else None,
            self.socket_timeout_seconds,
            self.socket_connect_timeout_seconds,
            self.retries,
            self.max_connections,
        )

    def _credentials(self) -> tuple[str | None, str | None]:
        """(username, password), read from the secrets resource once per instance (again after a refusal)."""
        with self._lock:
            if self._resolved is None:
                self._resolved = self._read_credentials()
            return self._resolved

    def _read_credentials(self) -> tuple[str | None, str | None]:
        if not self.password_secret_name:
            return self.username, None
        if self.secrets is None:
            raise RedisUnavailableError(
                f"{self._where()}: password_secret_name is '{self.password_secret_name}' but no secrets resource "
                "is configured to read it from."
            )
        problem: str | None = None
        try:
            username, password = _credentials(self.secrets.get(self.password_secret_name))
        except SecretNotFoundError as exc:
            problem = str(exc)
        except ValueError as exc:
            problem = f"the secret '{self.password_secret_name}' cannot be used: {exc}"
        if problem is not None:
            raise RedisUnavailableError(f"{self._where()}: the Redis password is not available: {problem}")
        return username or self.username, password

    def _new_client(self, username: str | None, password: str | None) -> redis.Redis:
        tls: dict[str, Any] = {"ssl": True, "ssl_ca_certs": self.tls_ca_certs} if self.tls else {}
        return redis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            username=username,
            password=password,
            socket_timeout=self.socket_timeout_seconds,
            socket_connect_timeout=self.socket_connect_timeout_seconds,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), max(0, self.retries)),
            max_connections=self.max_connections,
            health_check_interval=30,
            decode_responses=True,
            client_name="ops-desk-feed",
            **tls,
        )

    def _forget_client(self) -> None:
        key = self._client_key()
        with self._lock:
            self._resolved = None
        with _clients_lock:
            client = _clients.pop(key, None)
            _checked.discard(key)
        if client is not None:
            client.connection_pool.disconnect()

    def _check_not_cluster(self, client: redis.Redis) -> None:
        try:
            enabled = bool(client.info("cluster").get("cluster_enabled"))
        except redis.ResponseError:  # an ACL user without INFO: nothing to learn, carry on
            enabled = False
        if enabled:
            raise RedisClusterModeError(
                f"{self._where()} runs in cluster mode: one market-data file's instruments live in different hash "
                "slots, so Redis would refuse to apply them atomically (CROSSSLOT). Use a standalone Redis or "
                "ElastiCache for Redis/Valkey with cluster mode disabled."
            )

    def _script(self, name: str, source: str, client: redis.Redis) -> Any:
        """The script as a callable (EVALSHA, loading it on NOSCRIPT); pass ``client=`` when calling it."""
        with self._lock:
            script = self._scripts.get(name)
            if script is None:
                script = client.register_script(source)
                self._scripts[name] = script
            return script
