"""The desk's Redis cache against the machine's real Redis (127.0.0.1:6379; OPS_TEST_REDIS_PORT for another).

Every test writes under its own unique key prefix and deletes it afterwards, so tests never collide with each
other, with other checkouts or with a dashboard reading the same server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from resources.cache import (
    _MARKET_SCRIPT,
    MARKET_LAST_UPDATE_KEY,
    ORDERS_ACTIVE_KEY,
    ORDERS_EMPTY_KEY,
    ORDERS_LAST_UPDATE_KEY,
    ORDERS_STALE_KEY,
    PROCESSED_TTL_SECONDS,
    RedisCache,
    RedisCacheError,
    RedisClusterModeError,
    RedisUnavailableError,
)
from resources.secrets import StaticSecrets
from tests.conftest import free_port

pytestmark = pytest.mark.integration

REDIS_HOST = "127.0.0.1"
REDIS_PORT = int(os.environ.get("OPS_TEST_REDIS_PORT", "6379"))
ZN_FILE = "market-data/2024/01/15/GE_XCME.ZN_20240115_103938.csv"


def _prefix() -> str:
    return f"test:desk:{uuid.uuid4().hex[:12]}:"


def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


@pytest.fixture
def cache() -> Iterator[RedisCache]:
    """A cache on the machine's Redis under a unique key prefix, emptied afterwards."""
    cache = RedisCache(host=REDIS_HOST, port=REDIS_PORT, key_prefix=_prefix())
    try:
        cache.ping()
    except RedisUnavailableError as exc:
        pytest.fail(str(exc))
    yield cache
    _delete_prefix(cache.client(), cache.key_prefix)


def row(instrument: str, ts: int, price: str, bid: str = "", ask: str = "", volume: str = "") -> dict[str, str]:
    return {"instrument": instrument, "timestamp": str(ts), "price": price, "bid": bid, "ask": ask, "volume": volume}


# ------------------------------------------------------------------------------------------------ market data


def test_market_update_reads_back_as_the_dashboard_reads_it(cache: RedisCache) -> None:
    rows = [
        row("ZN", 1705314000, "112.50", "112.484375", "112.515625", "15000"),
        row("ZF", 1705314000, "108.25", "108.2421875", "108.2578125", "8000"),
        row("ZN", 1705314038, "112.515625", "112.5", "112.53125", "15234"),  # ZN's latest row
        row("ZN", 1705314020, "112.49", "112.48", "112.50", "15100"),
    ]
    assert cache.apply_market_update(rows, last_update=1705314040, source_key=ZN_FILE, etag='"9b2cf535f27731c9"')

    expected = {
        "price": "112.515625",
        "bid": "112.5",
        "ask": "112.53125",
        "volume": "15234",
        "timestamp": "1705314038",  # the data's own time, not the processing time
        "arrived": "1705314040",
    }
    client = cache.client()
    assert client.hgetall(cache.key("actant:market:ZN")) == expected
    assert cache.read_market("ZN") == expected
    assert cache.read_market("ZF")["price"] == "108.25"
    assert client.get(cache.key(MARKET_LAST_UPDATE_KEY)) == "1705314040"

    # The seed's validation: `redis-cli HGETALL actant:market:ZN` (here under the test's prefix).
    if shutil.which("redis-cli"):
        out = subprocess.run(
            ["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "HGETALL", cache.key("actant:market:ZN")],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.splitlines()
        assert dict(zip(out[::2], out[1::2], strict=True)) == expected


def test_a_duplicate_event_applies_nothing(cache: RedisCache) -> None:
    first = [row("ZN", 100, "112.50")]
    assert cache.apply_market_update(first, last_update=200, source_key=ZN_FILE, etag='"abc"') is True

    # The same object version again (S3 delivers at least once; quotes or not), even with other content:
    again = [row("ZN", 150, "999"), row("ES", 150, "4800")]
    assert cache.apply_market_update(again, last_update=300, source_key=ZN_FILE, etag="abc") is False
    assert cache.read_market("ZN")["price"] == "112.50"
    assert cache.read_market("ES") == {}
    assert cache.client().get(cache.key(MARKET_LAST_UPDATE_KEY)) == "200"

    marker = cache.processed_key(ZN_FILE, "abc")
    assert cache.client().get(marker) == "1"
    assert PROCESSED_TTL_SECONDS - 60 < cache.client().ttl(marker) <= PROCESSED_TTL_SECONDS

    # A new version of the same key (another ETag) is new data.
    assert cache.apply_market_update(again, last_update=300, source_key=ZN_FILE, etag='"def"') is True
    assert cache.read_market("ZN")["price"] == "999"


def test_an_older_file_never_overwrites_newer_values(cache: RedisCache) -> None:
    newer = [row("ZN", 1705314100, "112.60"), row("ZF", 1705314100, "108.30")]
    assert cache.apply_market_update(newer, last_update=1705314101, source_key="market-data/b.csv", etag="b")
    older = [row("ZN", 1705314000, "112.40"), row("ZT", 1705314000, "102.75")]
    assert cache.apply_market_update(older, last_update=1705314090, source_key="market-data/a.csv", etag="a")

    assert cache.read_market("ZN")["price"] == "112.60"  # kept
    assert cache.read_market("ZN")["timestamp"] == "1705314100"
    assert cache.read_market("ZT")["price"] == "102.75"  # only in the older file: written
    assert cache.client().get(cache.key(MARKET_LAST_UPDATE_KEY)) == "1705314101"  # never backwards


def test_a_refused_update_writes_nothing(cache: RedisCache) -> None:
    client = cache.client()
    client.set(cache.key("actant:market:ES"), "not a hash")
    rows = [row("ZN", 100, "112.50"), row("ES", 100, "4800")]
    with pytest.raises(RedisCacheError, match="WRONGTYPE"):
        cache.apply_market_update(rows, last_update=200, source_key="market-data/x.csv", etag="x")
    assert cache.read_market("ZN") == {}
    assert client.get(cache.key(MARKET_LAST_UPDATE_KEY)) is None
    assert client.exists(cache.processed_key("market-data/x.csv", "x")) == 0  # so a retry can apply it

    client.delete(cache.key("actant:market:ES"))
    assert cache.apply_market_update(rows, last_update=200, source_key="market-data/x.csv", etag="x") is True


def test_malformed_rows_are_refused_before_any_write(cache: RedisCache) -> None:
    with pytest.raises(ValueError, match="row 2"):
        cache.apply_market_update(
            [row("ZN", 100, "1"), {"instrument": "ZF", "price": "2"}], last_update=1, source_key="k", etag="e"
        )
    with pytest.raises(ValueError, match="etag"):
        cache.apply_market_update([row("ZN", 100, "1")], last_update=1, source_key="k", etag='""')
    assert list(cache.client().scan_iter(match=f"{cache.key_prefix}*")) == []


def test_a_10000_row_file_in_one_atomic_call(cache: RedisCache) -> None:
    # An options chain: 10,000 instruments, each with one row.
    rows = [
        row(f"ES {4000 + i * 0.25:.2f} C", 1705314000 + i % 60, f"{i / 100:.2f}", volume=str(i)) for i in range(10_000)
    ]
    started = time.perf_counter()
    assert cache.apply_market_update(rows, last_update=1705314100, source_key="market-data/chain.csv", etag="c")
    elapsed = time.perf_counter() - started
    keys = list(cache.client().scan_iter(match=cache.key("actant:market:*"), count=2000))
    assert len(keys) == 10_000
    assert cache.read_market("ES 4000.00 C") == {
        "price": "0.00",
        "bid": "",
        "ask": "",
        "volume": "0",
        "timestamp": "1705314000",
        "arrived": "1705314100",
    }
    assert cache.read_market("ES 6499.75 C")["volume"] == "9999"
    print(f"10,000 rows applied in {elapsed * 1000:.0f} ms")

    # 10,000 rows of 50 instruments: each instrument's latest row wins.
    ticks = [row(f"F{i % 50:02d}", 1705315000 + i // 50, str(i)) for i in range(10_000)]
    assert cache.apply_market_update(ticks, last_update=1705315300, source_key="market-data/ticks.csv", etag="t")
    assert cache.read_market("F07") == {
        "price": str(9950 + 7),
        "bid": "",
        "ask": "",
        "volume": "",
        "timestamp": str(1705315000 + 199),
        "arrived": "1705315300",
    }


def test_the_rows_travel_as_one_json_argument_and_read_back_exactly(cache: RedisCache) -> None:
    # Characters JSON must escape, non-ASCII text and empty fields survive cjson's decoding unchanged.
    rows = [
        row("ZN", 1705314000, '112"5', "112\\48", "", "15\u00e9"),
        row("Ré ZF 108½", 1705314001, "108.25", "", "108.26", "0 \U0001f600"),  # beyond the BMP: a surrogate pair
    ]
    assert cache.apply_market_update(rows, last_update=1705314005, arrived=1705314004, source_key="m/j.csv", etag="j")
    assert cache.read_market("ZN") == {
        "price": '112"5',
        "bid": "112\\48",
        "ask": "",
        "volume": "15\u00e9",
        "timestamp": "1705314000",
        "arrived": "1705314004",
    }
    assert cache.read_market("Ré ZF 108½")["price"] == "108.25"
    assert cache.read_market("Ré ZF 108½")["volume"] == "0 \U0001f600"
    client = cache.client()
    assert client.get(cache.key(MARKET_LAST_UPDATE_KEY)) == "1705314005"
    assert client.get(cache.processed_key("m/j.csv", "j")) == "1"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('[["200","1","","",""],["200","2","","",""],["200",3,"","",""]]', "row 3 field 2 is not a string"),
        ('[["200","1","","",""],["200","2","",""],["200","3","","",""]]', "row 2 is not"),
        ('[["200","1","","",""],["soon","2","","",""],["200","3","","",""]]', "row 2 timestamp is not a number"),
        ('[["200","1","","",""],["200","2","","",""],["200","3","","",null]]', "row 3 field 5"),
        ('[["200","1","","",""],["200","2","","",""]]', "2 rows for 3 instrument keys"),
        ('[["200","1","","",""],["200","2","","",""],', "not a JSON array"),
        ('"rows"', "not a JSON array"),
    ],
)
def test_a_malformed_row_in_the_json_writes_nothing(cache: RedisCache, payload: str, message: str) -> None:
    # The script checks every row before its first write (Redis does not roll a script back), even when the
    # malformed row comes last and the earlier instruments would be applied: nothing of the file is written.
    assert cache.apply_market_update([row("ES", 100, "4800")], last_update=150, source_key="m/ok.csv", etag="ok")
    client = cache.client()
    before = {key: client.dump(key) for key in client.scan_iter(match=f"{cache.key_prefix}*")}
    keys = [
        cache.processed_key("m/bad.csv", "bad"),
        cache.key(MARKET_LAST_UPDATE_KEY),
        cache.market_key("ZN"),
        cache.market_key("ES"),
        cache.market_key("ZF"),
    ]
    with pytest.raises(redis.ResponseError, match=message) as caught:
        client.eval(_MARKET_SCRIPT, len(keys), *keys, PROCESSED_TTL_SECONDS, 300, 300, payload)
    assert "nothing written" in str(caught.value)
    after = {key: client.dump(key) for key in client.scan_iter(match=f"{cache.key_prefix}*")}
    assert after == before
    assert client.get(cache.key(MARKET_LAST_UPDATE_KEY)) == "150"
    assert cache.read_market("ES")["price"] == "4800"
    assert client.exists(cache.processed_key("m/bad.csv", "bad")) == 0  # a corrected retry can still apply


# ------------------------------------------------------------------------------------------------ orders


def _orders(version: int) -> dict[str, str]:
    size = 2_500 if version % 50 == 0 else 3 + version % 17  # now and then, more than one HSET chunk
    return {f"order_{version}_{i}": json.dumps({"version": version, "size": size}) for i in range(size)}


def test_readers_never_see_the_orders_missing_or_half_built(cache: RedisCache) -> None:
    cache.replace_orders(_orders(0), at=1_000)
    active = cache.key(ORDERS_ACTIVE_KEY)
    reader_client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, decode_responses=True)
    stop = threading.Event()
    problems: list[str] = []
    seen: list[int] = []

    def read() -> None:
        while not stop.is_set():
            orders = reader_client.hgetall(active)
            if not orders:
                problems.append("tt:orders:active was missing")
                continue
            versions = {json.loads(v)["version"] for v in orders.values()}
            if len(versions) != 1:
                problems.append(f"mixed versions {sorted(versions)[:5]}")
                continue
            version = versions.pop()
            if len(orders) != len(_orders(version)):
                problems.append(f"version {version}: {len(orders)} of {len(_orders(version))} orders")
            seen.append(version)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for version in range(1, 201):
            assert cache.replace_orders(_orders(version), at=1_000 + version) is True
            time.sleep(0.0005)  # let the reader in on two shared cores
    finally:
        stop.set()
        reader.join(timeout=10)
        reader_client.close()

    assert problems == []
    assert len(seen) >= 20
    assert seen == sorted(seen)  # a reader never goes back to an older snapshot
    view = cache.read_orders()
    assert view.state == "orders"
    assert view.orders == _orders(200)
    assert view.last_update == 1_200
    assert cache.client().ttl(active) == -1  # the staging key's safety TTL does not follow it
    assert list(cache.client().scan_iter(match=cache.key("tt:orders:active:next*"))) == []


def test_no_orders_is_told_apart_from_never_written(cache: RedisCache) -> None:
    assert cache.read_orders().state == "never_written"
    assert cache.replace_orders({}, at=1705320030) is True
    client = cache.client()
    assert client.exists(cache.key(ORDERS_ACTIVE_KEY)) == 0
    assert client.get(cache.key(ORDERS_EMPTY_KEY)) == "1705320030"
    assert client.get(cache.key(ORDERS_LAST_UPDATE_KEY)) == "1705320030"
    view = cache.read_orders()
    assert (view.state, view.orders, view.last_update) == ("empty", {}, 1705320030)

    cache.replace_orders({"order_1": "{}"}, at=1705320060)
    assert client.exists(cache.key(ORDERS_EMPTY_KEY)) == 0
    assert cache.read_orders().state == "orders"
    cache.replace_orders({}, at=1705320090)
    assert cache.read_orders().state == "empty"


def test_an_older_snapshot_is_not_applied(cache: RedisCache) -> None:
    cache.replace_orders({"order_new": "{}"}, at=2_000)
    assert cache.replace_orders({"order_old": "{}"}, at=1_990) is False
    assert cache.replace_orders({}, at=1_990) is False
    view = cache.read_orders()
    assert (view.orders, view.last_update) == ({"order_new": "{}"}, 2_000)
    assert list(cache.client().scan_iter(match=cache.key("tt:orders:active:next*"))) == []


def test_mark_orders_stale_keeps_the_last_good_orders(cache: RedisCache) -> None:
    good = {"order_1": json.dumps({"order_id": "1", "side": "BUY", "qty": 10})}
    cache.replace_orders(good, at=1705320000)
    cache.mark_orders_stale("TT working orders answered HTTP 503", at=1705320030)
    client = cache.client()
    assert client.hgetall(cache.key(ORDERS_ACTIVE_KEY)) == good
    assert json.loads(client.get(cache.key(ORDERS_STALE_KEY))) == {
        "since": 1705320030,
        "reason": "TT working orders answered HTTP 503",
    }
    assert client.get(cache.key(ORDERS_LAST_UPDATE_KEY)) == "1705320000"

    cache.mark_orders_stale("TT refused the API credentials (HTTP 401)", at=1705320060)  # still failing
    view = cache.read_orders()
    assert view.orders == good
    assert view.stale == {"since": 1705320030, "reason": "TT refused the API credentials (HTTP 401)"}

    cache.replace_orders(good, at=1705320090)  # TT is back
    assert client.exists(cache.key(ORDERS_STALE_KEY)) == 0
    assert cache.read_orders().stale is None


# ------------------------------------------------------------------------------------------------ failures


def test_redis_down_raises_an_error_saying_how_to_start_it() -> None:
    port = free_port()  # nothing listens there
    down = RedisCache(host="127.0.0.1", port=port, key_prefix=_prefix())
    started = time.monotonic()
    for call in (
        down.ping,
        lambda: down.apply_market_update([row("ZN", 1, "1")], last_update=1, source_key="k", etag="e"),
        lambda: down.replace_orders({"order_1": "{}"}, at=1),
        lambda: down.mark_orders_stale("TT down", at=1),
        down.read_orders,
    ):
        with pytest.raises(RedisUnavailableError) as caught:
            call()
        message = str(caught.value)
        assert f"127.0.0.1:{port}" in message
        assert "redis-server --daemonize yes" in message
        assert f"redis-cli -p {port} ping" in message
        assert caught.value.__cause__ is None
    assert time.monotonic() - started < 10


def test_credentials_never_show_and_refused_ones_are_reported(cache: RedisCache) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    user = f"no-such-user-{uuid.uuid4().hex[:8]}"
    secrets = StaticSecrets(values={"dev/redis": json.dumps({"username": user, "password": password})})
    # (redis-py ignores a password sent to a server without AUTH, so refuse it with a user that does not exist.)
    wrong = RedisCache(port=REDIS_PORT, secrets=secrets, password_secret_name="dev/redis", key_prefix=_prefix())
    with pytest.raises(RedisUnavailableError, match="refused the credentials") as caught:
        wrong.ping()
    assert password not in str(caught.value)
    assert password not in repr(wrong)
    assert "dev/redis" in str(caught.value)

    missing = RedisCache(port=REDIS_PORT, secrets=StaticSecrets(values={}), password_secret_name="dev/redis")
    with pytest.raises(RedisUnavailableError, match="password is not available"):
        missing.ping()


def test_an_acl_user_from_the_secret(cache: RedisCache) -> None:
    admin = cache.client()
    user = f"test-desk-{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=[f"{cache.key_prefix}*"], commands=["+@all"])
    try:
        secrets = StaticSecrets(values={"dev/redis": json.dumps({"username": user, "password": password})})
        as_user = RedisCache(
            port=REDIS_PORT, secrets=secrets, password_secret_name="dev/redis", key_prefix=cache.key_prefix
        )
        assert as_user.apply_market_update([row("ZN", 1, "112.5")], last_update=2, source_key="k", etag="e")
        assert as_user.client().acl_whoami() == user
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_user.client().get("outside-this-test")  # the ACL limits the user to the test's prefix
        assert password not in repr(as_user)
    finally:
        admin.acl_deluser(user)


def test_one_client_per_process_and_settings(cache: RedisCache) -> None:
    other_prefix = RedisCache(host=REDIS_HOST, port=REDIS_PORT, key_prefix=_prefix())
    assert other_prefix.client() is cache.client()
    other_db = RedisCache(host=REDIS_HOST, port=REDIS_PORT, db=1, key_prefix=_prefix())
    assert other_db.client() is not cache.client()


def test_a_cluster_mode_server_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis.Redis, "info", lambda self, section=None, *a, **k: {"cluster_enabled": 1})
    clustered = RedisCache(port=REDIS_PORT, max_connections=7, key_prefix=_prefix())  # a client of its own
    with pytest.raises(RedisClusterModeError, match="cluster mode disabled"):
        clustered.ping()
