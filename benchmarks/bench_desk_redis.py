"""Claim: a 10,000-row market-data file goes into Redis at least 10x faster as one atomic, pipelined call
(:meth:`RedisCache.apply_market_update`, one Lua script, one round trip) than with the seed's per-row loop.

Side by side, on the machine's Redis (loopback), each under its own key prefix, the same parsed rows:

- **seed** (the reference): the seed Lambda's loop, one ``HSET actant:market:<instrument>`` round trip per row,
  then ``SET last_update:actant:market`` (its pandas ``iterrows`` is left out: only Redis is compared);
- **apply_market_update**: what the consumer does, one EVALSHA carrying the file (atomic: a reader sees all of
  the file or none of it; idempotent on key + ETag; never older over newer);
- for context, **plain pipeline**: the same HSETs in one non-transactional pipeline (one round trip, but neither
  atomic nor idempotent nor ordered by data time);
- for context, **packed prototype**: the same script logic with the values sent as *one* JSON argument decoded
  by ``cjson`` inside Redis, instead of five arguments per row. Not the cache's code: it measures what that change
  to :meth:`RedisCache.apply_market_update` would gain, since encoding ~60,000 arguments in redis-py is most of
  its time (the split line shows it).

Each variant runs ``--repeats`` times, interleaved, each time as a new object version (a new ETag, so nothing is
skipped as a duplicate) over keys that already exist (the steady state). Prints the median and best time per
variant and the ratios, plus the machine's load average.

    .venv/bin/python benchmarks/bench_desk_redis.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops_assets.desk.files import FileKind, route
from ops_assets.desk.parsing import parse_file
from resources.cache import MARKET_LAST_UPDATE_KEY, RedisCache
from resources.sample_sources.actant import SAMPLE_TIMEZONE, sample_large_market_file

GOAL_RATIO = 10.0
VPC_RTT_S = 0.0003
"""A typical in-VPC round trip to ElastiCache with TLS, for the labelled estimate only."""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def latest_rows(rows: Any) -> list[dict[str, Any]]:
    """The parsed rows as the consumer hands them to Redis (processing.py's mapping)."""
    return [
        {
            "instrument": r.instrument,
            "timestamp": int(r.timestamp.timestamp()),
            "price": str(r.price),
            "bid": "" if r.bid is None else str(r.bid),
            "ask": "" if r.ask is None else str(r.ask),
            "volume": str(r.volume),
        }
        for r in rows
    ]


def seed_loop(cache: RedisCache, rows: list[dict[str, Any]], now: int) -> None:
    client = cache.client()
    for row in rows:
        client.hset(
            cache.market_key(row["instrument"]),
            mapping={
                "price": row["price"],
                "bid": row["bid"],
                "ask": row["ask"],
                "volume": row["volume"],
                "timestamp": str(now),  # the seed stamped the processing time
            },
        )
    client.set(cache.key(MARKET_LAST_UPDATE_KEY), str(now))


def plain_pipeline(cache: RedisCache, rows: list[dict[str, Any]], now: int) -> None:
    pipe = cache.client().pipeline(transaction=False)
    for row in rows:
        pipe.hset(
            cache.market_key(row["instrument"]),
            mapping={k: row[k] for k in ("price", "bid", "ask", "volume")} | {"timestamp": row["timestamp"]},
        )
    pipe.set(cache.key(MARKET_LAST_UPDATE_KEY), str(now))
    pipe.execute()


PACKED_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, 0, 0}
end
local rows = cjson.decode(ARGV[4])
local n = #KEYS - 2
local write = {}
for i = 1, n do
  local stored = tonumber(redis.call('HGET', KEYS[i + 2], 'timestamp'))
  write[i] = stored == nil or tonumber(rows[i][1]) >= stored
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


def packed_prototype(cache: RedisCache, rows: list[dict[str, Any]], now: int, source_key: str, etag: str) -> None:
    """apply_market_update's semantics (latest row per instrument, marker, newest wins), values as one JSON arg."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept = latest.get(row["instrument"])
        if kept is None or row["timestamp"] >= kept["timestamp"]:
            latest[row["instrument"]] = row
    keys = [cache.processed_key(source_key, etag), cache.key(MARKET_LAST_UPDATE_KEY)]
    keys.extend(cache.market_key(instrument) for instrument in latest)
    payload = json.dumps(
        [[str(r["timestamp"]), r["price"], r["bid"], r["ask"], r["volume"]] for r in latest.values()],
        separators=(",", ":"),
    )
    client = cache.client()
    client.register_script(PACKED_SCRIPT)(keys=keys, args=[7 * 24 * 3600, now, now, payload], client=client)


def evalsha_usec(cache: RedisCache) -> int:
    """Total microseconds Redis has spent in EVALSHA since its start (``INFO commandstats``)."""
    stats = cache.client().info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("usec", 0))


def hiredis_used() -> bool:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the file (default 10000)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per variant (default 7)")
    args = parser.parse_args()

    print(f"before: {load()}")
    key, data = sample_large_market_file(args.rows)
    landed = route(key)
    parsed = parse_file(FileKind.MARKET, data, day=landed.day, timezone=SAMPLE_TIMEZONE)
    rows = latest_rows(parsed.rows)
    instruments = len({r["instrument"] for r in rows})
    print(f"file: {key}, {len(data) / 1024:.0f} KiB, {len(rows)} rows, {instruments} instruments")

    run_id = uuid.uuid4().hex[:10]
    caches = {
        name: RedisCache(key_prefix=f"bench:redis:{run_id}:{name}:")
        for name in ("seed", "script", "pipeline", "packed")
    }
    caches["seed"].ping()
    rtt = statistics.median(caches["seed"].ping() for _ in range(50))
    print(f"Redis round trip (PING, median of 50): {rtt * 1e6:.0f} us")
    times: dict[str, list[float]] = {name: [] for name in caches}
    server: list[float] = []  # seconds Redis itself spent running the script (INFO commandstats)
    try:
        now = int(time.time())
        # Warm-up (not timed): the keys exist afterwards, scripts are loaded, connections are open.
        seed_loop(caches["seed"], rows, now)
        caches["script"].apply_market_update(rows, last_update=now, source_key=key, etag="warmup")
        plain_pipeline(caches["pipeline"], rows, now)
        packed_prototype(caches["packed"], rows, now, key, "warmup")
        for repeat in range(args.repeats):
            now = int(time.time())
            start = time.perf_counter()
            seed_loop(caches["seed"], rows, now)
            times["seed"].append(time.perf_counter() - start)

            before = evalsha_usec(caches["script"])
            start = time.perf_counter()
            applied = caches["script"].apply_market_update(
                rows, last_update=now, source_key=key, etag=f"v{repeat}-{uuid.uuid4().hex[:8]}"
            )
            times["script"].append(time.perf_counter() - start)
            server.append((evalsha_usec(caches["script"]) - before) / 1e6)
            assert applied

            start = time.perf_counter()
            plain_pipeline(caches["pipeline"], rows, now)
            times["pipeline"].append(time.perf_counter() - start)

            start = time.perf_counter()
            packed_prototype(caches["packed"], rows, now, key, f"v{repeat}-{uuid.uuid4().hex[:8]}")
            times["packed"].append(time.perf_counter() - start)

        # The same prices came out of every variant.
        for row in rows[:: max(1, len(rows) // 20)]:
            for cache in caches.values():
                stored = cache.read_market(row["instrument"])
                assert stored["price"] == row["price"], (cache.key_prefix, row["instrument"])

        print(f"\n{len(rows)} rows into Redis, {args.repeats} runs each (interleaved):")
        labels = {
            "seed": "seed per-row HSET loop (reference)",
            "script": "apply_market_update (atomic, 1 call)",
            "pipeline": "plain pipeline (context only)",
            "packed": "packed prototype (context only)",
        }
        seed_median = statistics.median(times["seed"])
        for name, label in labels.items():
            median = statistics.median(times[name])
            print(
                f"  {label:<38} median {median * 1000:9.1f} ms  best {min(times[name]) * 1000:9.1f} ms  "
                f"{len(rows) / median:10.0f} rows/s  seed/this {seed_median / median:6.1f}x"
            )
        script_median = statistics.median(times["script"])
        in_redis = statistics.median(server)
        print(
            f"  apply_market_update split: {in_redis * 1000:.1f} ms running the script inside Redis, "
            f"{(script_median - in_redis) * 1000:.1f} ms in the client (building and encoding one call of "
            f"{instruments + 2:,} keys and {5 * instruments + 3:,} arguments; redis-py "
            f"{'with' if hiredis_used() else 'without'} hiredis)"
        )
        ratio = seed_median / script_median
        print(
            f"\nratio seed loop / apply_market_update: {ratio:.1f}x (goal >= {GOAL_RATIO:g}x: "
            f"{'MET' if ratio >= GOAL_RATIO else 'NOT MET'}); the seed's loop costs ~1 round trip per row "
            f"({seed_median / len(rows) * 1e6:.0f} us/row vs a {rtt * 1e6:.0f} us PING): the ratio grows with the "
            "round trip (loopback here; a VPC hop to ElastiCache over TLS is several times longer)"
        )
        extra = VPC_RTT_S - rtt  # estimate, not a measurement: every round trip costs this much more there
        seed_there, script_there = seed_median + len(rows) * extra, script_median + extra
        print(
            f"estimate (not measured) at a {VPC_RTT_S * 1000:g} ms round trip: seed loop ~{seed_there:.1f} s, "
            f"apply_market_update ~{script_there * 1000:.0f} ms: ~{seed_there / script_there:.0f}x"
        )
    finally:
        client = caches["seed"].client()
        for key_pattern in (f"bench:redis:{run_id}:*",):
            batch = list(client.scan_iter(match=key_pattern, count=5000))
            for start in range(0, len(batch), 1000):
                client.delete(*batch[start : start + 1000])
        print(f"after: {load()}")


if __name__ == "__main__":
    main()
