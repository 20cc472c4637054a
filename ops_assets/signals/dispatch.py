"""The dry-run dispatcher: turns PENDING recommendations into simulated fills, behind the risk gates.

What one call of :func:`dispatch_pending` does
----------------------------------------------
It takes PENDING recommendations oldest first (``created_at``, then ``id``), **one at a time, each in its own
short transaction**, and for each one:

1. **Claims** the row. On PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1``: a row another dispatcher is
   working on is skipped, never waited for or taken twice. On SQLite the store's write transaction is
   ``BEGIN IMMEDIATE`` (one writer at a time), which gives the same guarantee.
2. **Evaluates the gates** (:func:`~ops_assets.signals.risk.check_gates`) from the database as it is now:
   trades today (executions since UTC midnight of ``now``), consecutive failures (the FAILED/EXECUTED history
   since ``kill_switch_reset_at``), the ticker's latest 5-minute bar at or before ``now`` and the order's
   notional (quantity from :func:`~ops_assets.signals.risk.order_quantity` x that bar's close).
3. **Writes the outcome in the same transaction**: the ``dispatch_executions`` fill and status ``EXECUTED``, or
   status ``REJECTED`` with the gate's reason, or ``FAILED`` when the (simulated) broker failed, plus one
   ``dispatch_status_history`` row ``(from, to, reason, changed_at)``. Either all of it is committed or none of
   it: a dispatcher killed half-way leaves the row PENDING with no execution, and the next run finishes it.

There is no broker: the fill price is the close of the ticker's latest ``lane_telemetry`` bar at or before
``now``. Bars stamped after ``now`` are ignored (a replay of an earlier ``now`` must not see the future), and so
are recommendations created after ``now``.

Outcome statuses (``DispatchOutcome.status``; the first three are also the row's status in the database):

- ``EXECUTED``: a fill was written; ``quantity`` and ``fill_price`` say what was "bought" or "sold".
- ``REJECTED``: a gate said no (stale data, max trades per day, max notional, unusable price). Final.
- ``FAILED``: the broker call failed (here only the ``fail_on`` test hook). Final; counts toward the kill switch.
- ``HALTED``: the kill switch is tripped. Not a database status: the run **stops at once** and this row and
  every row after it stay PENDING, untouched and without history rows. They are not bad trades; they wait for an
  operator to reset the switch and then run normally. The summary says ``halted=True`` and ``halt_reason``, and
  this last outcome carries the same reason, for the asset to alert on.

Safe with several dispatchers at once
-------------------------------------
A recommendation executes at most once: the claim's row lock (or SQLite's write lock), the ``status = 'PENDING'``
re-check in the UPDATE, and finally the UNIQUE ``dispatch_executions.recommendation_id`` constraint, which turns
any remaining bug into an error and a rollback instead of a second trade. On PostgreSQL the gate evaluation and
the writes also hold a transaction advisory lock, so two dispatchers can never both see "9 trades today" and
take the 10th and 11th: the daily cap and the kill switch hold across processes, not only within one.

All timestamps written (``executed_at``, ``status_changed_at``, ``changed_at``) are ``now``, the run's
evaluation time, so a run is reproducible; ties between rows of one run are ordered by ``id``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ops_assets.signals.risk import (
    EXECUTE,
    HALTED,
    GateDecision,
    RiskLimits,
    check_gates,
    count_consecutive_failures,
    order_quantity,
)
from ops_assets.timekeeping import require_aware
from resources.central_schema import (
    SqlStore,
    dispatch_executions,
    dispatch_recommendations,
    dispatch_status_history,
    lane_telemetry,
)

PENDING = "PENDING"
EXECUTED = "EXECUTED"
REJECTED = "REJECTED"
FAILED = "FAILED"
EXPIRED = "EXPIRED"

# Arbitrary constant (next to the store's migration lock 0x0C3E_7A15_0001): the PostgreSQL advisory-lock key that
# serialises gate evaluation across dispatchers, so aggregate limits (trades per day, kill switch) are exact.
DISPATCH_GATE_LOCK_KEY = 0x0C3E_7A15_0002

BrokerFailureHook = Callable[[sa.Row[Any]], bool]


@dataclass(frozen=True)
class DispatchOutcome:
    """What happened to one recommendation in this run.

    ``status``: the recommendation's status after the run: ``EXECUTED``, ``REJECTED``, ``FAILED``; or ``HALTED``
    for the row that found the kill switch tripped (it stays PENDING in the database, nothing was written for it).
    ``reason``: as written to the status history (for HALTED, the kill-switch reason).
    ``quantity`` / ``fill_price``: the dry-run fill; ``0`` / ``None`` unless EXECUTED.
    """

    recommendation_id: int
    ticker: str
    status: str
    reason: str
    quantity: int
    fill_price: float | None


@dataclass(frozen=True)
class DispatchSummary:
    """The result of one :func:`dispatch_pending` call.

    ``executed`` / ``rejected`` / ``failed``: recommendations this run moved to that status. ``halted``: the kill
    switch stopped the run; ``halt_reason`` says why (``None`` otherwise) and the remaining rows stay PENDING.
    ``outcomes``: one entry per recommendation this run looked at, in the order it took them.
    """

    executed: int
    rejected: int
    halted: bool
    outcomes: list[DispatchOutcome]
    failed: int = 0
    halt_reason: str | None = None


def dispatch_pending(
    store: SqlStore,
    *,
    now: datetime,
    limits: RiskLimits,
    kill_switch_reset_at: datetime | None = None,
    created_after: datetime | None = None,
    batch_size: int = 50,
    fail_on: BrokerFailureHook | None = None,
) -> DispatchSummary:
    """Dispatch up to ``batch_size`` PENDING recommendations created at or before ``now`` (see the module docs).

    ``now``: the evaluation time (timezone-aware); the gates and every timestamp written use it. Only what was
    known at ``now`` counts: attempts recorded after it and a reset later than it are ignored (a replay of an
    earlier ``now`` sees the kill switch as it was then). ``limits``: the risk limits. ``kill_switch_reset_at``:
    when an operator last reset the kill switch; failures at or before it no longer count. ``created_after``:
    leave recommendations created before it alone (a day's dispatcher takes only that day's recommendations,
    so a live run never fills a replayed day's signal at today's price). ``batch_size``: the most
    recommendations one call takes; the rest wait for the next run. ``fail_on``: a test hook standing in for
    the broker: called with the recommendation row once the gates passed, inside the claim transaction;
    returning ``True`` (or raising) means "the broker failed" and the recommendation becomes FAILED.

    Safe to run in several processes at once against one database; each recommendation is executed at most once.
    Database errors propagate, with the recommendation being handled rolled back to PENDING.
    """
    require_aware(now, "now")
    if kill_switch_reset_at is not None:
        require_aware(kill_switch_reset_at, "kill_switch_reset_at")
        if kill_switch_reset_at > now:
            kill_switch_reset_at = None  # not reset yet at `now`
    if created_after is not None:
        require_aware(created_after, "created_after")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")

    outcomes: list[DispatchOutcome] = []
    for _ in range(batch_size):
        try:
            with store.begin(write=True) as conn:
                outcome = _dispatch_one(
                    conn,
                    now=now,
                    limits=limits,
                    reset_at=kill_switch_reset_at,
                    created_after=created_after,
                    fail_on=fail_on,
                )
                if outcome is not None and outcome.status == HALTED:
                    raise _Halted(outcome)
        except _Halted as halt:
            # Kill switch: the claim is rolled back with nothing written; the rows wait for a reset.
            outcomes.append(halt.outcome)
            return _summary(outcomes, halt_reason=halt.outcome.reason)
        if outcome is None:
            break  # nothing left that this dispatcher may take
        outcomes.append(outcome)
    return _summary(outcomes, halt_reason=None)


class _Halted(Exception):
    """Raised inside the claim transaction to roll it back when the kill switch is tripped."""

    def __init__(self, outcome: DispatchOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _summary(outcomes: list[DispatchOutcome], *, halt_reason: str | None) -> DispatchSummary:
    def count(status: str) -> int:
        return sum(1 for o in outcomes if o.status == status)

    return DispatchSummary(
        executed=count(EXECUTED),
        rejected=count(REJECTED),
        failed=count(FAILED),
        halted=halt_reason is not None,
        halt_reason=halt_reason,
        outcomes=outcomes,
    )


def _dispatch_one(
    conn: Connection,
    *,
    now: datetime,
    limits: RiskLimits,
    reset_at: datetime | None,
    created_after: datetime | None,
    fail_on: BrokerFailureHook | None,
) -> DispatchOutcome | None:
    """Claim the oldest PENDING recommendation and decide it, all in ``conn``'s transaction; None if none left."""
    rec = _claim(conn, now=now, created_after=created_after)
    if rec is None:
        return None
    if conn.dialect.name == "postgresql":
        # Taken after the claim, so dispatchers still claim different rows in parallel, and before any read
        # the gates depend on: under READ COMMITTED each later statement sees what the previous holder committed.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(DISPATCH_GATE_LOCK_KEY)))

    existing = conn.execute(
        sa.select(dispatch_executions).where(dispatch_executions.c.recommendation_id == rec.id)
    ).one_or_none()
    if existing is not None:
        # A fill without EXECUTED status cannot come from this module (both are written in one transaction), only
        # from a manual edit. The trade happened: repair the status instead of trading again.
        reason = f"already executed: dry-run fill #{existing.id} existed, status repaired"
        _set_status(conn, rec, EXECUTED, reason, now=now)
        return DispatchOutcome(rec.id, rec.ticker, EXECUTED, reason, int(existing.quantity), existing.fill_price)

    bar = conn.execute(
        sa.select(lane_telemetry.c.ts, lane_telemetry.c.close)
        .where(lane_telemetry.c.ticker == rec.ticker, lane_telemetry.c.ts <= now)
        .order_by(lane_telemetry.c.ts.desc())
        .limit(1)
    ).one_or_none()
    price = bar.close if bar is not None else None
    usable_price = price is not None and math.isfinite(price) and price > 0
    quantity = order_quantity(price, limits) if usable_price else 0
    notional = quantity * price if usable_price else 0.0

    decision = check_gates(
        now=now,
        trades_today=_trades_today(conn, now),
        notional=notional,
        consecutive_failures=_consecutive_failures(conn, now=now, reset_at=reset_at, limits=limits),
        kill_switch_reset_at=reset_at,
        latest_bar_ts=bar.ts if bar is not None else None,
        limits=limits,
    )
    if decision.status == HALTED:
        return DispatchOutcome(rec.id, rec.ticker, HALTED, decision.reason, 0, None)
    if bar is not None and not usable_price:
        # A zero/negative/NaN close is bad data, not a budget problem: say so rather than "quantity is 0".
        decision = GateDecision(False, REJECTED, f"invalid market price: close {price!r} at {bar.ts.isoformat()}")
    if decision.status != EXECUTE:
        _set_status(conn, rec, REJECTED, decision.reason, now=now)
        return DispatchOutcome(rec.id, rec.ticker, REJECTED, decision.reason, 0, None)

    broker_error = _broker_error(fail_on, rec)
    if broker_error is not None:
        _set_status(conn, rec, FAILED, broker_error, now=now)
        return DispatchOutcome(rec.id, rec.ticker, FAILED, broker_error, 0, None)

    # A plain INSERT on purpose: should the UNIQUE recommendation_id ever be hit, the IntegrityError rolls the
    # whole transaction back rather than being swallowed. It is the last line of defence against a double trade.
    conn.execute(
        dispatch_executions.insert().values(
            recommendation_id=rec.id,
            ticker=rec.ticker,
            action=rec.action,
            quantity=quantity,
            fill_price=price,
            notional=notional,
            dry_run=True,
            executed_at=now,
        )
    )
    reason = f"dry-run {rec.action} {quantity} x {price:g} = {notional:.2f} ({decision.reason})"
    _set_status(conn, rec, EXECUTED, reason, now=now)
    return DispatchOutcome(rec.id, rec.ticker, EXECUTED, reason, quantity, price)


def _claim(conn: Connection, *, now: datetime, created_after: datetime | None) -> sa.Row[Any] | None:
    """The oldest PENDING recommendation no other dispatcher holds, locked for this transaction."""
    recs = dispatch_recommendations
    query = (
        sa.select(recs)
        .where(recs.c.status == PENDING, recs.c.created_at <= now)
        .order_by(recs.c.created_at, recs.c.id)
        .limit(1)
    )
    if created_after is not None:
        query = query.where(recs.c.created_at >= created_after)
    if conn.dialect.name != "sqlite":
        # SQLite has no row locks; BEGIN IMMEDIATE already made this the only writer.
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).one_or_none()


def _trades_today(conn: Connection, now: datetime) -> int:
    """Executions on the UTC calendar day of ``now``."""
    midnight = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return conn.execute(
        sa.select(sa.func.count())
        .select_from(dispatch_executions)
        .where(
            dispatch_executions.c.executed_at >= midnight,
            dispatch_executions.c.executed_at < midnight + timedelta(days=1),
        )
    ).scalar_one()


def _consecutive_failures(conn: Connection, *, now: datetime, reset_at: datetime | None, limits: RiskLimits) -> int:
    """Trailing FAILED dispatches (not interrupted by an EXECUTED one) since the last kill-switch reset, up to ``now``.

    Only the last ``max_consecutive_failures`` attempts are read: more cannot change the gate's answer.
    REJECTED rows are not attempts (the order never reached the broker), so they neither count nor interrupt.
    """
    history = dispatch_status_history
    query = sa.select(history.c.changed_at, history.c.to_status).where(
        history.c.to_status.in_((FAILED, EXECUTED)), history.c.changed_at <= now
    )
    if reset_at is not None:
        query = query.where(history.c.changed_at > reset_at)
    rows = conn.execute(
        query.order_by(history.c.changed_at.desc(), history.c.id.desc()).limit(limits.max_consecutive_failures)
    ).all()
    # Oldest first: count_consecutive_failures sorts by time stably, so rows of one run (same changed_at) keep
    # their id order.
    attempts = [(row.changed_at, row.to_status == EXECUTED) for row in reversed(rows)]
    return count_consecutive_failures(attempts, kill_switch_reset_at=reset_at)


def _broker_error(fail_on: BrokerFailureHook | None, rec: sa.Row[Any]) -> str | None:
    """The broker's failure reason, or None when the (simulated) order went through."""
    if fail_on is None:
        return None
    try:
        failed = fail_on(rec)
    except Exception as exc:  # a broker client raising (timeout, rejection) is a failed dispatch, not a crash
        return f"broker error: {type(exc).__name__}: {exc}"
    return "broker error: simulated failure" if failed else None


def _set_status(conn: Connection, rec: sa.Row[Any], status: str, reason: str, *, now: datetime) -> None:
    """Move ``rec`` from PENDING to ``status`` and append the history row, in the caller's transaction."""
    updated = conn.execute(
        dispatch_recommendations.update()
        .where(dispatch_recommendations.c.id == rec.id, dispatch_recommendations.c.status == PENDING)
        .values(status=status, status_reason=reason, status_changed_at=now)
    ).rowcount
    if updated != 1:
        # Cannot happen while the claim holds the row; if it does, roll back rather than record a second outcome.
        raise RuntimeError(f"recommendation {rec.id} was no longer PENDING when setting it to {status}")
    conn.execute(
        dispatch_status_history.insert().values(
            recommendation_id=rec.id, from_status=PENDING, to_status=status, reason=reason, changed_at=now
        )
    )


def utc_midnight(at: datetime) -> datetime:
    """The start of ``at``'s UTC calendar day."""
    return datetime.combine(at.astimezone(UTC).date(), time(0), tzinfo=UTC)


def expire_pending(store: SqlStore, *, before: datetime, now: datetime) -> list[tuple[int, str]]:
    """Set recommendations still PENDING that were created before ``before`` (a UTC midnight) to EXPIRED.

    A day's dispatcher takes only that day's recommendations, so one left PENDING when its day ended (the kill
    switch was tripped, the dispatcher did not run) would otherwise stay PENDING for ever. Each gets the status
    EXPIRED, the reason and a status-history row at ``now``, all in one transaction. Returns ``(id, ticker)`` of
    the rows expired; rows another dispatcher holds are left for the next run.
    """
    require_aware(before, "before")
    require_aware(now, "now")
    recs = dispatch_recommendations
    with store.begin(write=True) as conn:
        query = (
            sa.select(recs.c.id, recs.c.ticker, recs.c.created_at)
            .where(recs.c.status == PENDING, recs.c.created_at < before)
            .order_by(recs.c.created_at, recs.c.id)
        )
        if conn.dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        for row in rows:
            day = row.created_at.astimezone(UTC).date().isoformat()
            reason = (
                f"expired: still PENDING when its day ({day}) ended; a day's dispatcher takes only that day's "
                "recommendations"
            )
            _set_status(conn, row, EXPIRED, reason, now=now)
    return [(row.id, row.ticker) for row in rows]


def lingering_pending(store: SqlStore, *, before: datetime) -> list[tuple[int, str, datetime]]:
    """``(id, ticker, created_at)`` of recommendations still PENDING that were created before ``before``."""
    recs = dispatch_recommendations
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(recs.c.id, recs.c.ticker, recs.c.created_at)
            .where(recs.c.status == PENDING, recs.c.created_at < before)
            .order_by(recs.c.created_at, recs.c.id)
        ).all()
    return [(row.id, row.ticker, row.created_at) for row in rows]


@dataclass(frozen=True)
class DaySummary:
    """A day's dispatching: recommendations by status, rejections by gate, and the fills."""

    recommendations: int
    by_status: dict[str, int]
    rejections_by_gate: dict[str, int]
    fills: list[tuple[str, str, str, float, float, float, int]]
    """``(executed_at ISO, ticker, action, quantity, fill_price, notional, recommendation_id)``, in time order."""


def gate_of(reason: str | None) -> str:
    """The gate a rejection reason names: the text before its first colon (``"stale data: ..."`` -> stale data)."""
    return (reason or "unknown").split(":", 1)[0].strip() or "unknown"


def day_summary(store: SqlStore, *, start: datetime, end: datetime) -> DaySummary:
    """The recommendations created in ``[start, end)``: counts by status and gate, and their fills."""
    recs, fills = dispatch_recommendations, dispatch_executions
    in_day = sa.and_(recs.c.created_at >= start, recs.c.created_at < end)
    with store.connect() as conn:
        statuses = conn.execute(sa.select(recs.c.status, recs.c.status_reason).where(in_day)).all()
        fill_rows = conn.execute(
            sa.select(fills)
            .join(recs, fills.c.recommendation_id == recs.c.id)
            .where(in_day)
            .order_by(fills.c.executed_at, fills.c.id)
        ).all()
    by_status: dict[str, int] = {}
    gates: dict[str, int] = {}
    for status, reason in statuses:
        by_status[status] = by_status.get(status, 0) + 1
        if status == REJECTED:
            gates[gate_of(reason)] = gates.get(gate_of(reason), 0) + 1
    return DaySummary(
        recommendations=len(statuses),
        by_status=dict(sorted(by_status.items())),
        rejections_by_gate=dict(sorted(gates.items(), key=lambda item: (-item[1], item[0]))),
        fills=[
            (
                row.executed_at.isoformat(),
                row.ticker,
                row.action,
                row.quantity,
                row.fill_price,
                row.notional,
                row.recommendation_id,
            )
            for row in fill_rows
        ],
    )
