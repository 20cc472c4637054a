"""TT working-orders snapshots every 30 s: the schedule (:func:`run_snapshots`), one snapshot (:func:`take_snapshot`).

**Where it runs, and why.** In the always-on desk service (``scripts/desk_service.py``), in a thread beside the
file consumer, not in Dagster: a Dagster schedule ticks at most once a minute (cron), and a run takes seconds to
start, so a 30-second cadence would need a run every 30 s, each spending most of its time starting. A plain
loop with a monotonic clock holds the marks to milliseconds. Dagster keeps what is not latency-critical: the
history's asset checks and the freshness check of ``last_update:tt:orders`` during trading hours.

**The schedule.** Tick ``k`` is due at ``start + k * interval`` on the monotonic clock (``start`` the loop's
start), so lateness never accumulates (no drift: a tick that starts 40 ms late does not move the next one).
Ticks never overlap: the loop takes one snapshot at a time. A tick that runs past the next mark makes the loop
skip to the first mark still ahead (the marks passed are counted as *missed*): no back-to-back catch-up burst
that would hammer TT right after it was slow. The TT source bounds each fetch (``deadline_seconds`` 20 s).

**One snapshot** (:func:`take_snapshot`): fetch -> :func:`~ops_assets.desk.parsing.parse_orders` (strict) ->
``tt:orders:active`` replaced atomically (:meth:`~resources.cache.RedisCache.replace_orders`) -> the raw answer to
``working-orders/YYYY/MM/DD/orders_snapshot_<epoch>.json`` -> the history (each order kept 7 days). Redis first:
the dashboard is what the cadence is for. ``<epoch>`` is when the answer came (the data's time).

**TT down** (credentials refused, HTTP 5xx, timeouts, an answer that is not a list of valid orders): the last good
orders stay in ``tt:orders:active``, ``tt:orders:stale`` says since when and why, and **one** alert goes out per
outage (the stale marker in Redis is the outage's state, so a restart during an outage does not alert again);
the first good snapshot after it clears the marker and sends one "recovered" alert. A malformed answer is also
kept under ``quarantine/working-orders/...`` with its reason. Redis, bucket or history failures raise: the
schedule logs them and the next tick tries again. With Redis down but TT answering, the snapshot still goes to
the bucket and the history before the Redis error is raised: the record of the orders has no gap.

Plain module: no Dagster.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from ops_assets.desk.files import quarantine_key, quarantine_reason_key, snapshot_key
from ops_assets.desk.parsing import MalformedFile, WorkingOrder, parse_orders
from ops_assets.timekeeping import require_aware
from resources.desk_history import WorkingOrder as HistoryOrder
from resources.working_orders import WorkingOrdersAuthError, WorkingOrdersError

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 30.0
STALE_SUBJECT = "TT working orders STALE"
RECOVERED_SUBJECT = "TT working orders RECOVERED"


# ------------------------------------------------------------------------------------------------ the schedule


@dataclass
class ScheduleStats:
    """What :func:`run_snapshots` did: ticks run, marks skipped because a tick overran, ticks that raised, and the
    largest lateness of a tick's start behind its mark (seconds)."""

    ticks: int = 0
    missed: int = 0
    errors: int = 0
    max_late_seconds: float = 0.0


def run_snapshots(
    take: Callable[[datetime], object],
    *,
    interval: float = DEFAULT_INTERVAL_SECONDS,
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] | None = None,
    wall: Callable[[], datetime] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> ScheduleStats:
    """Call ``take(now)`` at ``start + k * interval`` (``clock``, monotonic) until ``stop`` is set.

    ``now`` is the wall time of the tick (``wall``, default ``datetime.now(UTC)``). ``sleep`` waits (default
    ``stop.wait``, so that ``stop`` ends a wait at once); ``clock`` and ``sleep`` are injectable for tests. The
    first tick runs at once. An exception from ``take`` is logged, passed to ``on_error`` and counted; the
    schedule goes on. Answers the :class:`ScheduleStats` when stopped.
    """
    if not (math.isfinite(interval) and interval > 0):
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
    wait = sleep if sleep is not None else stop.wait
    now_wall = wall if wall is not None else (lambda: datetime.now(UTC))
    stats = ScheduleStats()
    start = clock()
    k = 0
    while not stop.is_set():
        due = start + k * interval
        remaining = due - clock()
        if remaining > 0:
            wait(remaining)
            if stop.is_set():
                break
        stats.max_late_seconds = max(stats.max_late_seconds, clock() - due)
        try:
            take(now_wall())
        except Exception as exc:
            stats.errors += 1
            logger.exception("working-orders snapshot (tick %d) failed; the next tick tries again", k)
            if on_error is not None:
                try:
                    on_error(exc)
                except Exception:
                    logger.exception("on_error of the snapshot schedule failed")
        stats.ticks += 1
        finished = clock()
        next_k = k + 1
        if finished > start + next_k * interval:
            # Overran the next mark: skip to the first mark still ahead (no back-to-back catch-up).
            ahead = math.floor((finished - start) / interval) + 1
            stats.missed += ahead - next_k
            logger.warning(
                "working-orders snapshot tick %d took %.2f s, past the next mark: %d mark(s) skipped",
                k,
                finished - due,
                ahead - next_k,
            )
            next_k = ahead
        k = next_k
    return stats


# ------------------------------------------------------------------------------------------------ one snapshot


class Latest(Protocol):
    def replace_orders(self, orders: dict[str, str], *, at: int) -> bool: ...
    def mark_orders_stale(self, reason: str, *, at: int) -> None: ...
    def read_orders(self) -> Any: ...


class Source(Protocol):
    def fetch(self) -> Any: ...


class History(Protocol):
    def write_order_snapshot(self, orders: Any, *, at: datetime, source_key: str) -> int: ...


class Objects(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class SnapshotOutcome:
    """``taken``: orders stored (``key`` the bucket file, ``orders`` how many, ``applied`` False when Redis already
    held a newer snapshot); ``stale``: TT failed, the last good orders were kept and marked stale (``reason``).
    ``alerted``: an outage or recovery alert was sent by this call."""

    outcome: Literal["taken", "stale"]
    at: datetime
    orders: int = 0
    key: str | None = None
    applied: bool = True
    reason: str | None = None
    alerted: bool = False


def take_snapshot(
    now: datetime,
    *,
    source: Source,
    latest: Latest,
    history: History,
    objects: Objects,
    alert: Callable[[str, str], None] | None = None,
) -> SnapshotOutcome:
    """One working-orders snapshot at ``now`` (aware): see the module docstring."""
    require_aware(now, "now")
    failure: str | None = None
    try:
        answer = source.fetch()
    except WorkingOrdersAuthError as exc:
        failure = f"TT refused the credentials: {exc}"
    except WorkingOrdersError as exc:
        failure = f"TT unavailable: {exc}"
    except Exception as exc:  # a source that failed otherwise is still an outage of the orders, not a silent log
        failure = f"TT working orders could not be fetched ({type(exc).__name__}: {exc})"
    if failure is not None:
        return _stale(now, failure, latest, alert)
    raw: bytes = answer.raw
    fetched_at = getattr(answer, "fetched_at", None) or now
    try:
        parsed = parse_orders(raw)
    except MalformedFile as exc:
        failure = f"TT answered a malformed working-orders list: {exc.describe()}"
        _keep_malformed(objects, now, raw, failure)
        return _stale(now, failure, latest, alert)

    at = require_aware(fetched_at, "fetched_at").astimezone(UTC)
    epoch = int(at.timestamp())
    orders: tuple[WorkingOrder, ...] = parsed.rows
    key = snapshot_key(at)
    redis_failure: Exception | None = None
    try:
        was_stale = _stale_marker(latest)
        applied = latest.replace_orders(
            {o.order_id: json.dumps(o.to_json_dict(), separators=(",", ":"), sort_keys=True) for o in orders},
            at=epoch,
        )
    except Exception as exc:
        # Redis down: TT answered, so the snapshot still goes to the bucket and the history (nothing lost), then
        # the Redis error is raised for the schedule to report; the next tick brings Redis up to date.
        redis_failure = exc
    if redis_failure is not None:
        try:
            objects.put_bytes(key, raw)
            history.write_order_snapshot([_history_order(o) for o in orders], at=at, source_key=key)
        except Exception:  # the Redis failure is what the schedule must report; this one is logged
            logger.exception("Redis is down and the snapshot could not be kept in the bucket/history either")
        raise redis_failure
    alerted = False
    if was_stale is not None and applied:  # the dashboard is current again: say so before the slower writes
        since = was_stale.get("since") if isinstance(was_stale, dict) else None
        _send(
            alert,
            RECOVERED_SUBJECT,
            f"TT working orders are current again: {len(orders)} order(s) as of {at.isoformat()}"
            + (f"; stale since {datetime.fromtimestamp(since, UTC).isoformat()}." if isinstance(since, int) else "."),
        )
        alerted = alert is not None
        logger.info("TT working orders recovered: %d orders at %s", len(orders), at.isoformat())
    objects.put_bytes(key, raw)
    history.write_order_snapshot([_history_order(o) for o in orders], at=at, source_key=key)
    return SnapshotOutcome("taken", at, orders=len(orders), key=key, applied=applied, alerted=alerted)


def _history_order(order: WorkingOrder) -> HistoryOrder:
    return HistoryOrder(
        order_id=order.order_id,
        instrument=order.instrument,
        side=order.side,
        qty=order.qty,
        status=order.status,
        price=order.price,
    )


def _stale_marker(latest: Latest) -> dict[str, Any] | None:
    view = latest.read_orders()
    return getattr(view, "stale", None)


def _stale(now: datetime, reason: str, latest: Latest, alert: Callable[[str, str], None] | None) -> SnapshotOutcome:
    already = _stale_marker(latest)
    latest.mark_orders_stale(reason, at=int(now.timestamp()))
    logger.warning("working-orders snapshot failed, last good orders kept and marked stale: %s", reason)
    alerted = False
    if already is None:
        _send(
            alert,
            STALE_SUBJECT,
            f"{reason}\nThe dashboard keeps showing the last good working orders, marked stale since "
            f"{now.astimezone(UTC).isoformat()}. Snapshots go on every tick; one more alert when they recover.",
        )
        alerted = alert is not None
    return SnapshotOutcome("stale", now, reason=reason, alerted=alerted)


def _keep_malformed(objects: Objects, now: datetime, raw: bytes, reason: str) -> None:
    key = snapshot_key(now)
    try:
        objects.put_bytes(quarantine_key(key), raw)
        note = {"key": key, "reason": reason, "quarantined_at": datetime.now(UTC).isoformat()}
        objects.put_bytes(quarantine_reason_key(key), json.dumps(note, indent=2).encode())
    except Exception:  # keeping the evidence must not hide the outage itself
        logger.exception("could not keep the malformed working-orders answer under quarantine/")


def _send(alert: Callable[[str, str], None] | None, subject: str, body: str) -> None:
    if alert is None:
        return
    try:
        alert(subject, body)
    except Exception:
        logger.exception("sending the alert %r failed", subject)
