"""The dry-run dispatcher against real databases (the machine's PostgreSQL and a SQLite file). No mocks.

Covers the gates end to end, the kill switch and its reset, idempotent re-runs, two dispatcher processes racing
over the same rows, and a dispatcher SIGKILLed while it holds a claimed row.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ops_assets.signals.dispatch import DispatchSummary, dispatch_pending
from ops_assets.signals.risk import RiskLimits
from resources.central_schema import (
    dispatch_executions,
    dispatch_recommendations,
    dispatch_status_history,
    lane_telemetry,
)
from resources.central_store import CentralStore

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
LIMITS = RiskLimits()  # production settings: 10 trades/day, 10,000 notional, 3 failures, 15 min data age


# ---------------------------------------------------------------------------------------------------------------
# Seeding and reading back
# ---------------------------------------------------------------------------------------------------------------


def add_bar(store: CentralStore, ticker: str, ts: datetime, close: float) -> None:
    row = {
        "ticker": ticker,
        "ts": ts,
        "open": close,
        "high": close,
        "low": close,
        "close": close,
        "volume": 1000.0,
        "source": "test",
        "ingested_at": ts,
    }
    store.upsert(lane_telemetry, [row], key=["ticker", "ts"])


def add_recommendations(
    store: CentralStore, tickers: list[str], *, start: datetime = NOW - timedelta(hours=1), action: str = "BUY"
) -> list[int]:
    """One PENDING recommendation per entry of ``tickers``, one second apart (oldest first); returns their ids."""
    rows = []
    for index, ticker in enumerate(tickers):
        created_at = start + timedelta(seconds=index)
        rows.append(
            {
                "ticker": ticker,
                "created_at": created_at,
                "action": action,
                "reason": "test recommendation",
                "sentiment_score": 0.5,
                "article_count": 3,
                "price": 100.0,
                "sma20": 99.0,
                "input_fingerprint": f"{ticker}-{action}-{created_at.isoformat()}",
            }
        )
    store.upsert(dispatch_recommendations, rows, key=["input_fingerprint"])
    fingerprints = [r["input_fingerprint"] for r in rows]
    with store.connect() as conn:
        found = dict(
            conn.execute(
                sa.select(dispatch_recommendations.c.input_fingerprint, dispatch_recommendations.c.id).where(
                    dispatch_recommendations.c.input_fingerprint.in_(fingerprints)
                )
            ).all()
        )
    return [found[f] for f in fingerprints]


def statuses(store: CentralStore) -> dict[int, str]:
    with store.connect() as conn:
        return dict(conn.execute(sa.select(dispatch_recommendations.c.id, dispatch_recommendations.c.status)).all())


def executions(store: CentralStore) -> list[Any]:
    with store.connect() as conn:
        return conn.execute(sa.select(dispatch_executions).order_by(dispatch_executions.c.id)).all()


def history(store: CentralStore) -> list[Any]:
    with store.connect() as conn:
        return conn.execute(sa.select(dispatch_status_history).order_by(dispatch_status_history.c.id)).all()


def assert_consistent(store: CentralStore) -> None:
    """No execution without EXECUTED status and vice versa; at most one execution per recommendation."""
    fills = [e.recommendation_id for e in executions(store)]
    assert len(fills) == len(set(fills))
    assert set(fills) == {rid for rid, status in statuses(store).items() if status == "EXECUTED"}


# ---------------------------------------------------------------------------------------------------------------
# Single dispatcher
# ---------------------------------------------------------------------------------------------------------------


def test_happy_path_fills_at_the_latest_close(store: CentralStore) -> None:
    add_bar(store, "SPY", NOW - timedelta(minutes=10), 100.0)
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 101.2)
    add_bar(store, "SPY", NOW + timedelta(minutes=5), 999.0)  # after `now`: never seen
    add_bar(store, "QQQ", NOW - timedelta(minutes=5), 400.0)
    [spy] = add_recommendations(store, ["SPY"])
    [qqq] = add_recommendations(store, ["QQQ"], start=NOW - timedelta(minutes=30), action="SELL")
    [future] = add_recommendations(store, ["SPY"], start=NOW + timedelta(minutes=1))

    summary = dispatch_pending(store, now=NOW, limits=LIMITS)

    assert (summary.executed, summary.rejected, summary.failed, summary.halted) == (2, 0, 0, False)
    assert [(o.recommendation_id, o.status, o.quantity, o.fill_price) for o in summary.outcomes] == [
        (spy, "EXECUTED", 98, 101.2),  # order_quantity(101.2) == 98; oldest first
        (qqq, "EXECUTED", 25, 400.0),
    ]
    spy_fill, qqq_fill = executions(store)
    assert (spy_fill.recommendation_id, spy_fill.action, spy_fill.quantity, spy_fill.fill_price) == (
        spy,
        "BUY",
        98,
        101.2,
    )
    assert spy_fill.notional == pytest.approx(9917.6)
    assert spy_fill.dry_run is True
    assert spy_fill.executed_at == NOW
    assert (qqq_fill.action, qqq_fill.quantity, qqq_fill.notional) == ("SELL", 25, 10_000.0)

    assert statuses(store) == {spy: "EXECUTED", qqq: "EXECUTED", future: "PENDING"}
    rows = history(store)
    assert [(h.recommendation_id, h.from_status, h.to_status, h.changed_at) for h in rows] == [
        (spy, "PENDING", "EXECUTED", NOW),
        (qqq, "PENDING", "EXECUTED", NOW),
    ]
    assert rows[0].reason == "dry-run BUY 98 x 101.2 = 9917.60 (all gates passed)"
    with store.connect() as conn:
        rec = conn.execute(sa.select(dispatch_recommendations).where(dispatch_recommendations.c.id == spy)).one()
    assert (rec.status_reason, rec.status_changed_at) == (rows[0].reason, NOW)
    assert_consistent(store)


def test_stale_or_missing_data_is_rejected(store: CentralStore) -> None:
    add_bar(store, "OLD", NOW - timedelta(minutes=20), 50.0)
    add_bar(store, "EDGE", NOW - timedelta(minutes=15), 50.0)  # exactly max_data_age old: still fresh
    old, missing, edge = add_recommendations(store, ["OLD", "NONE", "EDGE"])

    summary = dispatch_pending(store, now=NOW, limits=LIMITS)

    assert (summary.executed, summary.rejected) == (1, 2)
    assert statuses(store) == {old: "REJECTED", missing: "REJECTED", edge: "EXECUTED"}
    reasons = {h.recommendation_id: h.reason for h in history(store)}
    assert reasons[old] == "stale data: latest bar 2026-11-20T14:10:00Z is 20 min old (max 15)"
    assert reasons[missing] == "stale data: no market bar (max age 15 min)"
    assert [e.recommendation_id for e in executions(store)] == [edge]
    assert_consistent(store)


def test_max_trades_per_day_counts_executions_since_utc_midnight(store: CentralStore) -> None:
    limits = RiskLimits(max_trades_per_day=2)
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 100.0)
    ids = add_recommendations(store, ["SPY"] * 3)

    summary = dispatch_pending(store, now=NOW, limits=limits)

    assert (summary.executed, summary.rejected) == (2, 1)
    assert [statuses(store)[i] for i in ids] == ["EXECUTED", "EXECUTED", "REJECTED"]
    assert summary.outcomes[2].reason == "max trades per day: 2 already executed today (max 2)"

    # The next UTC day starts from zero.
    tomorrow = datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
    add_bar(store, "SPY", tomorrow - timedelta(minutes=5), 100.0)
    [next_day] = add_recommendations(store, ["SPY"], start=tomorrow - timedelta(minutes=1))
    assert dispatch_pending(store, now=tomorrow, limits=limits).executed == 1
    assert statuses(store)[next_day] == "EXECUTED"
    assert_consistent(store)


def test_max_notional_rejects_an_order_of_zero_shares(store: CentralStore) -> None:
    add_bar(store, "BRK", NOW - timedelta(minutes=5), 20_000.0)  # one share costs more than the 10,000 cap
    add_bar(store, "BAD", NOW - timedelta(minutes=5), 0.0)  # bad data
    brk, bad = add_recommendations(store, ["BRK", "BAD"])

    summary = dispatch_pending(store, now=NOW, limits=LIMITS)

    assert (summary.executed, summary.rejected) == (0, 2)
    reasons = {o.recommendation_id: o.reason for o in summary.outcomes}
    assert reasons[brk] == "max notional: order quantity is 0 (one share costs more than 10000.00 per trade)"
    assert reasons[bad].startswith("invalid market price: close 0.0")
    assert executions(store) == []
    assert_consistent(store)


def test_kill_switch_halts_leaves_the_rest_pending_and_resumes_after_reset(store: CentralStore) -> None:
    limits = RiskLimits(max_consecutive_failures=3)
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 100.0)
    ids = add_recommendations(store, ["SPY"] * 6)

    summary = dispatch_pending(store, now=NOW, limits=limits, fail_on=lambda rec: True)

    assert (summary.executed, summary.rejected, summary.failed, summary.halted) == (0, 0, 3, True)
    assert summary.halt_reason == "kill switch: 3 consecutive failures; reset to resume (never reset)"
    assert [(o.recommendation_id, o.status) for o in summary.outcomes] == [
        (ids[0], "FAILED"),
        (ids[1], "FAILED"),
        (ids[2], "FAILED"),
        (ids[3], "HALTED"),  # the row that found the switch tripped: untouched, still PENDING in the database
    ]
    assert [statuses(store)[i] for i in ids] == ["FAILED"] * 3 + ["PENDING"] * 3
    assert [h.recommendation_id for h in history(store)] == ids[:3]  # no history for the halted rows
    assert {h.reason for h in history(store)} == {"broker error: simulated failure"}

    # Without a reset, the next run halts at once and touches nothing.
    again = dispatch_pending(store, now=NOW + timedelta(minutes=1), limits=limits)
    assert (again.halted, again.executed, len(again.outcomes)) == (True, 0, 1)
    assert again.outcomes[0].status == "HALTED"
    assert again.outcomes[0].reason == again.halt_reason
    assert len(history(store)) == 3

    # After a reset the waiting rows run normally.
    reset_at = NOW + timedelta(minutes=2)
    later = NOW + timedelta(minutes=3)
    resumed = dispatch_pending(store, now=later, limits=limits, kill_switch_reset_at=reset_at)
    assert (resumed.executed, resumed.halted) == (3, False)
    assert [statuses(store)[i] for i in ids] == ["FAILED"] * 3 + ["EXECUTED"] * 3
    assert_consistent(store)


def test_a_replayed_mark_sees_the_kill_switch_as_it_stood_then(store: CentralStore) -> None:
    limits = RiskLimits(max_consecutive_failures=3)
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 100.0)
    add_bar(store, "SPY", NOW - timedelta(hours=2, minutes=5), 100.0)
    add_recommendations(store, ["SPY"] * 4)  # an hour before NOW: three fail, the fourth finds the switch tripped
    assert dispatch_pending(store, now=NOW, limits=limits, fail_on=lambda rec: True).halted

    # Two hours earlier those failures had not happened yet: an earlier mark of a replay is not halted by them.
    earlier = NOW - timedelta(hours=2)
    [early] = add_recommendations(store, ["SPY"], start=earlier - timedelta(minutes=1))
    replay = dispatch_pending(store, now=earlier, limits=limits)
    assert (replay.halted, replay.executed) == (False, 1)
    assert statuses(store)[early] == "EXECUTED"

    # A reset made after the mark did not exist at the mark: the switch still holds there.
    [late] = add_recommendations(store, ["SPY"], start=NOW + timedelta(seconds=30))
    at_mark = dispatch_pending(
        store, now=NOW + timedelta(minutes=1), limits=limits, kill_switch_reset_at=NOW + timedelta(minutes=2)
    )
    assert at_mark.halted
    assert statuses(store)[late] == "PENDING"
    assert_consistent(store)


def test_a_days_dispatcher_leaves_other_days_recommendations_alone(store: CentralStore) -> None:
    # A replay of yesterday wrote its PENDING rows; today's live dispatcher must not fill them at today's price.
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 100.0)
    [yesterday] = add_recommendations(store, ["SPY"], start=NOW - timedelta(days=1))
    [today] = add_recommendations(store, ["SPY"], start=NOW - timedelta(minutes=10), action="SELL")
    midnight = NOW.replace(hour=0, minute=30) - timedelta(minutes=30)

    summary = dispatch_pending(store, now=NOW, limits=LIMITS, created_after=midnight)

    assert [o.recommendation_id for o in summary.outcomes] == [today]
    assert statuses(store) == {yesterday: "PENDING", today: "EXECUTED"}


def test_a_success_or_a_broker_exception_between_failures(store: CentralStore) -> None:
    limits = RiskLimits(max_consecutive_failures=2)
    add_bar(store, "OK", NOW - timedelta(minutes=5), 100.0)
    add_bar(store, "BAD", NOW - timedelta(minutes=5), 100.0)
    # fail, succeed, fail, rejected (stale: not an attempt, neither counts nor interrupts), raise -> halt
    ids = add_recommendations(store, ["BAD", "OK", "BAD", "STALE", "RAISE", "OK"])

    def broker(rec: Any) -> bool:
        if rec.ticker == "RAISE":
            raise TimeoutError("broker did not answer in 5 s")
        return rec.ticker == "BAD"

    add_bar(store, "RAISE", NOW - timedelta(minutes=5), 100.0)
    summary = dispatch_pending(store, now=NOW, limits=limits, fail_on=broker)

    assert [statuses(store)[i] for i in ids] == ["FAILED", "EXECUTED", "FAILED", "REJECTED", "FAILED", "PENDING"]
    assert summary.halted
    assert summary.outcomes[4].reason == "broker error: TimeoutError: broker did not answer in 5 s"
    assert_consistent(store)


def test_rerun_executes_nothing_twice(store: CentralStore) -> None:
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 100.0)
    add_recommendations(store, ["SPY", "SPY", "NONE"])

    first = dispatch_pending(store, now=NOW, limits=LIMITS)
    second = dispatch_pending(store, now=NOW, limits=LIMITS)

    assert (first.executed, first.rejected) == (2, 1)
    assert (second.executed, second.rejected, second.outcomes) == (0, 0, [])
    assert len(executions(store)) == 2
    assert len(history(store)) == 3
    assert_consistent(store)


def test_batch_size_bounds_one_run(store: CentralStore) -> None:
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 100.0)
    ids = add_recommendations(store, ["SPY"] * 5)

    assert dispatch_pending(store, now=NOW, limits=LIMITS, batch_size=2).executed == 2
    assert [statuses(store)[i] for i in ids] == ["EXECUTED"] * 2 + ["PENDING"] * 3
    assert dispatch_pending(store, now=NOW, limits=LIMITS, batch_size=50).executed == 3


def test_an_execution_without_executed_status_is_repaired_not_repeated(store: CentralStore) -> None:
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 100.0)
    [rid] = add_recommendations(store, ["SPY"])
    with store.begin() as conn:  # a manual edit: a fill while the row still says PENDING
        conn.execute(
            dispatch_executions.insert().values(
                recommendation_id=rid,
                ticker="SPY",
                action="BUY",
                quantity=7,
                fill_price=99.0,
                notional=693.0,
                executed_at=NOW - timedelta(minutes=1),
            )
        )

    summary = dispatch_pending(store, now=NOW, limits=LIMITS)

    [outcome] = summary.outcomes
    assert (outcome.status, outcome.quantity, outcome.fill_price) == ("EXECUTED", 7, 99.0)
    assert outcome.reason.startswith("already executed")
    assert len(executions(store)) == 1
    assert_consistent(store)


def test_naive_now_is_refused(store: CentralStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        dispatch_pending(store, now=NOW.replace(tzinfo=None), limits=LIMITS)


# ---------------------------------------------------------------------------------------------------------------
# Several processes
# ---------------------------------------------------------------------------------------------------------------


def _dispatch_in_process(url: str, limits: RiskLimits, barrier: Any, results: Any) -> None:
    store = CentralStore(url=url)
    store.engine()  # connect and check the schema before the start line, so both really start together
    try:
        barrier.wait(timeout=60)
        summary = dispatch_pending(store, now=NOW, limits=limits)
        results.put(("ok", summary))
    except Exception:
        results.put(("error", traceback.format_exc()))
    finally:
        store.dispose()


# The daily-cap variant only on PostgreSQL: there the dispatchers truly overlap (SKIP LOCKED plus the gate lock);
# SQLite's BEGIN IMMEDIATE runs them one transaction at a time anyway.
@pytest.mark.parametrize(
    ("store_url", "max_trades"),
    [("postgresql", 1000), ("postgresql", 25), ("sqlite", 1000)],
    indirect=["store_url"],
)
def test_two_dispatchers_at_once_execute_every_row_exactly_once(store_url: str, max_trades: int) -> None:
    store = CentralStore(url=store_url)
    store.ensure_schema()
    tickers = [f"T{i:02d}" for i in range(8)]
    for ticker in tickers:
        add_bar(store, ticker, NOW - timedelta(minutes=5), 50.0)
    ids = add_recommendations(store, [tickers[i % len(tickers)] for i in range(40)])
    limits = RiskLimits(max_trades_per_day=max_trades)

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    workers = [ctx.Process(target=_dispatch_in_process, args=(store_url, limits, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert [kind for kind, _ in reports] == ["ok", "ok"], [detail for kind, detail in reports if kind == "error"]
    summaries: list[DispatchSummary] = [summary for _, summary in reports]

    expected_executed = min(40, max_trades)  # the daily cap holds across both processes, not per process
    assert sum(s.executed for s in summaries) == expected_executed
    assert sum(s.rejected for s in summaries) == 40 - expected_executed
    taken = [o.recommendation_id for s in summaries for o in s.outcomes]
    assert sorted(taken) == sorted(ids)  # every row handled by exactly one of the two
    fills = executions(store)
    assert len(fills) == expected_executed
    assert len({e.recommendation_id for e in fills}) == expected_executed
    assert list(statuses(store).values()).count("EXECUTED") == expected_executed
    assert len(history(store)) == 40
    assert_consistent(store)
    store.dispose()


def _dispatch_and_hang(url: str, claimed: Any) -> None:
    store = CentralStore(url=url)

    def hang(rec: Any) -> bool:
        claimed.set()  # the row is claimed and the transaction is open: now the parent kills us
        time.sleep(120)
        return False

    dispatch_pending(store, now=NOW, limits=LIMITS, fail_on=hang)


def _wait_until_unlocked(store: CentralStore, rid: int) -> None:
    """Wait for PostgreSQL to notice the dead client and drop its locks (SQLite's go with the process)."""
    if not store.url.startswith("postgresql"):
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with store.begin() as conn:
            free = conn.execute(
                sa.select(dispatch_recommendations.c.id)
                .where(dispatch_recommendations.c.id == rid)
                .with_for_update(skip_locked=True)
            ).one_or_none()
        if free is not None:
            return
        time.sleep(0.05)
    raise AssertionError(f"recommendation {rid} is still locked 20 s after its dispatcher was killed")


def test_a_dispatcher_killed_mid_run_leaves_no_half_executed_row(store_url: str) -> None:
    store = CentralStore(url=store_url)
    store.ensure_schema()
    add_bar(store, "SPY", NOW - timedelta(minutes=5), 100.0)
    ids = add_recommendations(store, ["SPY"] * 4)

    ctx = multiprocessing.get_context("spawn")
    claimed = ctx.Event()
    child = ctx.Process(target=_dispatch_and_hang, args=(store_url, claimed))
    child.start()
    try:
        assert claimed.wait(timeout=60), "the child dispatcher never claimed a row"
        if store_url.startswith("postgresql"):
            # The claim is real: the first row is locked, so another dispatcher's SKIP LOCKED passes it by.
            with store.begin() as conn:
                visible = conn.execute(
                    sa.select(dispatch_recommendations.c.id)
                    .where(dispatch_recommendations.c.status == "PENDING")
                    .order_by(dispatch_recommendations.c.id)
                    .with_for_update(skip_locked=True)
                ).scalars()
                assert list(visible) == ids[1:]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL

    # Nothing of the interrupted transaction survived: still PENDING, no fill, no history.
    assert set(statuses(store).values()) == {"PENDING"}
    assert executions(store) == []
    assert history(store) == []

    _wait_until_unlocked(store, ids[0])
    summary = dispatch_pending(store, now=NOW, limits=LIMITS)
    assert summary.executed == 4
    assert [o.recommendation_id for o in summary.outcomes] == ids
    assert_consistent(store)
    store.dispose()
