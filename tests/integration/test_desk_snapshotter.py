"""Working-orders snapshots on real parts: the sample TT server (401, 5xx, garbage on demand), the machine's Redis,
the local object store and the central store (PostgreSQL and SQLite) as the history; and the 30-second schedule
on a fake clock (exact marks, skips instead of overlaps or catch-up bursts, no drift). No timed assertions."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ops_assets.desk.files import quarantine_key, quarantine_reason_key, snapshot_key
from ops_assets.desk.snapshotter import (
    RECOVERED_SUBJECT,
    STALE_SUBJECT,
    ScheduleStats,
    run_snapshots,
    take_snapshot,
)
from resources.cache import RedisCache, RedisUnavailableError
from resources.central_store import CentralStore
from resources.desk_history import CentralStoreDeskHistory
from resources.object_store import LocalObjectStore
from resources.sample_sources.tt_orders import SAMPLE_TT_CREDENTIALS_JSON, TTOrdersSampleServer
from resources.secrets import StaticSecrets
from resources.working_orders import TTWorkingOrdersSource, WorkingOrdersAnswer
from tests.conftest import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[TTOrdersSampleServer]:
    with TTOrdersSampleServer() as srv:
        yield srv


@pytest.fixture
def parts(tmp_path: Path, store: CentralStore, cache: RedisCache, server: TTOrdersSampleServer) -> dict[str, Any]:
    alerts: list[tuple[str, str]] = []
    source = TTWorkingOrdersSource(
        base_url=server.base_url,
        secrets=StaticSecrets(values={"dev/tt-api": SAMPLE_TT_CREDENTIALS_JSON}),
        max_attempts=2,
        backoff_initial_seconds=0.01,
        backoff_max_seconds=0.02,
        timeout_seconds=2.0,
    )
    return {
        "source": source,
        "latest": cache,
        "history": CentralStoreDeskHistory(store=store),
        "objects": LocalObjectStore(root=str(tmp_path / "bucket")),
        "alert": lambda subject, body: alerts.append((subject, body)),
        "alerts": alerts,
    }


def snapshot(parts: dict[str, Any], source: Any = None):
    return take_snapshot(
        datetime.now(UTC),
        source=source or parts["source"],
        latest=parts["latest"],
        history=parts["history"],
        objects=parts["objects"],
        alert=parts["alert"],
    )


def test_a_snapshot_writes_redis_the_bucket_file_and_history(parts: dict[str, Any], server) -> None:
    expected = server.orders_at()

    outcome = snapshot(parts)

    assert outcome.outcome == "taken"
    assert outcome.orders == len(expected) > 10
    view = parts["latest"].read_orders()
    assert view.state == "orders"
    assert view.stale is None
    assert view.last_update == int(outcome.at.timestamp())
    assert set(view.orders) == {o["order_id"] for o in expected}
    first = expected[0]
    stored = json.loads(view.orders[first["order_id"]])
    assert (stored["id"], stored["instrument"], stored["side"], stored["qty"]) == (
        first["order_id"],
        first["instrument"],
        first["side"],
        first["qty"],
    )
    assert outcome.key == snapshot_key(outcome.at)
    assert json.loads(parts["objects"].get_bytes(outcome.key)) == expected  # the raw answer, as TT sent it
    assert parts["history"].count_for_source("orders", outcome.key) == len(expected)
    (row,) = parts["history"].order_history(first["order_id"])
    assert (row.instrument, row.side, row.qty) == (first["instrument"], first["side"], first["qty"])
    assert parts["alerts"] == []


def test_tt_down_keeps_the_last_good_orders_marked_stale_with_one_alert_then_recovers(
    parts: dict[str, Any], server
) -> None:
    snapshot(parts)
    before = parts["latest"].read_orders()

    server.refuse_next(1)  # 401
    refused = snapshot(parts)
    server.fail_next(2, status=503)  # every attempt of the next snapshot
    unavailable = snapshot(parts)
    server.garble_next(1)  # HTTP 200 with a body that is not JSON (not retried)
    garbled = snapshot(parts)

    assert [o.outcome for o in (refused, unavailable, garbled)] == ["stale"] * 3
    assert "credentials" in refused.reason
    assert "503" in unavailable.reason
    during = parts["latest"].read_orders()
    assert during.orders == before.orders  # the last good orders, never wiped
    assert during.last_update == before.last_update
    assert during.stale["since"] == int(refused.at.timestamp())  # the outage's start stays
    assert "not JSON" in during.stale["reason"] or "unusable" in during.stale["reason"]
    assert [s for s, _ in parts["alerts"]] == [STALE_SUBJECT]  # one alert for the whole outage
    assert refused.alerted
    assert not unavailable.alerted
    assert not garbled.alerted
    assert len(list(parts["objects"].list("working-orders/"))) == 1  # no snapshot file for a failure

    server.advance(120)  # orders fill, cancel and appear meanwhile
    recovered = snapshot(parts)

    assert recovered.outcome == "taken"
    assert recovered.alerted
    after = parts["latest"].read_orders()
    assert after.stale is None
    assert set(after.orders) == {o["order_id"] for o in server.orders_at()} != set(before.orders)
    assert [s for s, _ in parts["alerts"]] == [STALE_SUBJECT, RECOVERED_SUBJECT]
    assert snapshot(parts).alerted is False  # business as usual: no more alerts


def test_redis_down_still_keeps_the_snapshot_in_the_bucket_and_history(parts: dict[str, Any], server) -> None:
    down = {**parts, "latest": RedisCache(port=free_port(), key_prefix=parts["latest"].key_prefix, retries=0)}
    expected = server.orders_at()
    with pytest.raises(RedisUnavailableError, match="redis-server"):
        snapshot(down)
    (key,) = [info.key for info in parts["objects"].list("working-orders/")]
    assert json.loads(parts["objects"].get_bytes(key)) == expected
    assert parts["history"].count_for_source("orders", key) == len(expected)
    assert parts["latest"].read_orders().state == "never_written"

    server.advance(30)
    assert snapshot(parts).outcome == "taken"  # Redis back: the next tick brings the dashboard up to date
    assert parts["latest"].read_orders().state == "orders"


def test_a_malformed_answer_is_kept_in_quarantine_and_the_orders_marked_stale(parts: dict[str, Any]) -> None:
    snapshot(parts)
    raw = json.dumps([{"order_id": "1", "instrument": "ZN", "side": "HOLD", "qty": 1, "price": 1, "status": "W"}])

    class Broken:
        def fetch(self) -> WorkingOrdersAnswer:
            return WorkingOrdersAnswer(orders=json.loads(raw), raw=raw.encode(), fetched_at=datetime.now(UTC))

    outcome = snapshot(parts, Broken())

    assert outcome.outcome == "stale"
    assert "malformed" in outcome.reason
    key = snapshot_key(outcome.at)
    assert parts["objects"].get_bytes(quarantine_key(key)) == raw.encode()
    assert json.loads(parts["objects"].get_bytes(quarantine_reason_key(key)))["reason"] == outcome.reason
    assert parts["latest"].read_orders().state == "orders"
    assert [s for s, _ in parts["alerts"]] == [STALE_SUBJECT]


def test_the_schedule_and_the_snapshot_together(parts: dict[str, Any]) -> None:
    stop = threading.Event()
    outcomes: list[Any] = []

    def take(now: datetime) -> None:
        outcomes.append(snapshot(parts))
        if len(outcomes) == 3:
            stop.set()

    stats = run_snapshots(take, interval=0.05, stop=stop)

    assert stats.ticks == 3
    assert [o.outcome for o in outcomes] == ["taken"] * 3
    assert len({o.key for o in outcomes}) <= 3  # snapshots in the same second share a file name (last wins)


# ------------------------------------------------------------------------------------------------ the schedule


class FakeClock:
    """A monotonic clock that moves only when slept on (plus an overshoot) or when a tick works."""

    def __init__(self, start: float = 1000.0, overshoot: float | None = None, seed: int = 7) -> None:
        self.t = start
        self.overshoot = overshoot
        self.rng = random.Random(seed)
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.t += seconds + (self.rng.uniform(0, 0.05) if self.overshoot is None else self.overshoot)


def schedule(clock: FakeClock, durations: list[float], interval: float = 30.0) -> tuple[list[float], ScheduleStats]:
    """Run the schedule for ``len(durations)`` ticks, tick ``i`` working ``durations[i]`` s; return the starts
    (relative to the schedule's start) and the stats."""
    stop = threading.Event()
    origin = clock.t
    starts: list[float] = []

    def take(now: datetime) -> None:
        assert now.tzinfo is not None
        starts.append(clock.t - origin)
        clock.t += durations[len(starts) - 1]
        if len(starts) == len(durations):
            stop.set()

    stats = run_snapshots(take, interval=interval, stop=stop, clock=clock, sleep=clock.sleep)
    return starts, stats


def test_ticks_start_at_exact_marks() -> None:
    starts, stats = schedule(FakeClock(overshoot=0.0), [0.2] * 6)

    assert starts == [0.0, 30.0, 60.0, 90.0, 120.0, 150.0]
    assert (stats.ticks, stats.missed, stats.errors) == (6, 0, 0)


def test_a_slow_tick_skips_to_the_next_mark_without_overlap_or_catch_up() -> None:
    # Tick 1 runs 45 s (past the 60 s mark), tick 3 runs 75 s (past two marks).
    starts, stats = schedule(FakeClock(overshoot=0.0), [0.2, 45.0, 0.2, 75.0, 0.2, 0.2])

    assert starts == [0.0, 30.0, 90.0, 120.0, 210.0, 240.0]
    assert stats.missed == 1 + 2
    ends = [start + d for start, d in zip(starts, [0.2, 45.0, 0.2, 75.0, 0.2, 0.2], strict=True)]
    assert all(ends[i] <= starts[i + 1] for i in range(len(starts) - 1))  # never two at once
    assert all(start % 30.0 == 0 for start in starts)  # every start on a mark: no back-to-back run after a slow one


def test_no_drift_over_a_hundred_ticks() -> None:
    clock = FakeClock()  # each sleep overshoots by 0-50 ms, like a real one
    rng = random.Random(3)
    durations = [rng.uniform(0.05, 3.0) for _ in range(100)]

    starts, stats = schedule(clock, durations)

    lateness = [start - 30.0 * k for k, start in enumerate(starts)]
    assert (stats.ticks, stats.missed) == (100, 0)
    assert all(0.0 <= late <= 0.05 + 1e-9 for late in lateness)  # each tick within its sleep's overshoot ...
    assert lateness[-1] <= 0.05 + 1e-9  # ... the 100th too: the overshoots never add up
    assert stats.max_late_seconds <= 0.05 + 1e-9


def test_a_failing_tick_is_reported_and_the_schedule_goes_on() -> None:
    clock = FakeClock(overshoot=0.0)
    stop = threading.Event()
    calls: list[float] = []
    errors: list[Exception] = []

    def take(now: datetime) -> None:
        calls.append(clock.t)
        if len(calls) == 4:
            stop.set()
        if len(calls) == 2:
            raise RedisUnavailableError("Redis at 127.0.0.1:6379 is unavailable")

    stats = run_snapshots(take, interval=30.0, stop=stop, clock=clock, sleep=clock.sleep, on_error=errors.append)

    assert (stats.ticks, stats.errors) == (4, 1)
    assert [type(e) for e in errors] == [RedisUnavailableError]
    assert [c - calls[0] for c in calls] == [0.0, 30.0, 60.0, 90.0]


def test_stop_ends_the_wait_for_the_next_mark() -> None:
    stop = threading.Event()
    ticks: list[datetime] = []
    result: list[ScheduleStats] = []
    thread = threading.Thread(
        target=lambda: result.append(run_snapshots(ticks.append, interval=3600.0, stop=stop)), daemon=True
    )
    thread.start()
    while not ticks:  # the first tick runs at once, then it waits an hour for the next mark
        thread.join(0.01)
    stop.set()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert result[0].ticks == 1
