"""The dispatcher's kill switch as an operator meets it: its alerts and its resets, audited in the central store.

The switch trips when ``max_consecutive_failures`` dispatches failed in a row since the last reset
(:func:`ops_assets.signals.risk.check_gates`). Every event is a row of ``kill_switch_events``:

- ``TRIPPED``: the first run that found the switch tripped since the last reset; one alert.
- ``REMINDED``: still halted ``reminder interval`` after the last alert; one reminder per interval.
- ``RESET``: an operator ran ``reset_kill_switch_job`` with their name and a reason; one message. The
  dispatcher counts failures only after the latest reset (or after ``kill_switch_reset_at`` in the
  signal_settings config, the older way, should that be later).

So a halted dispatcher ticking every 5 minutes sends one alert, a reminder per interval and nothing else.
Plain functions: SQLAlchemy against any :class:`~resources.central_schema.SqlStore`, no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ops_assets.timekeeping import format_duration, iso_z, require_aware
from resources.central_schema import SqlStore, kill_switch_events

TRIPPED = "TRIPPED"
REMINDED = "REMINDED"
RESET = "RESET"


@dataclass(frozen=True)
class KillSwitchEvent:
    """One row of ``kill_switch_events``."""

    event: str
    at: datetime
    reason: str
    operator: str | None = None
    run_id: str | None = None


def notice_to_send(
    *,
    halted: bool,
    last_event: KillSwitchEvent | None,
    config_reset_at: datetime | None,
    now: datetime,
    remind_every: timedelta,
) -> str | None:
    """``TRIPPED``, ``REMINDED`` or ``None``: what a dispatcher run that found the switch ``halted`` should send.

    ``last_event``: the latest kill-switch event. ``config_reset_at``: a reset done the older way (config), which
    ends an alerted halt like a RESET event does. Nothing is sent while not halted (the reset job announces
    resets).
    """
    require_aware(now, "now")
    if not halted:
        return None
    if last_event is None or last_event.event == RESET:
        return TRIPPED
    if config_reset_at is not None and config_reset_at > last_event.at:
        return TRIPPED  # reset through the config since the last alert: this is a new halt
    if now - last_event.at >= remind_every:
        return REMINDED
    return None


def effective_reset(config_reset_at: datetime | None, last_reset_at: datetime | None) -> datetime | None:
    """The reset the dispatcher honours: the later of the config's and the latest RESET event's."""
    resets = [r for r in (config_reset_at, last_reset_at) if r is not None]
    return max(resets) if resets else None


def tripped_message(reason: str, *, remind_every: timedelta) -> tuple[str, str]:
    body = "\n".join(
        [
            f"Dispatching is halted: {reason}.",
            "",
            "Pending recommendations wait; nothing is filled until the switch is reset. Find why the dispatches",
            "failed (the trade_executions runs' logs show each failure), fix it, then launch reset_kill_switch_job",
            "in the Dagster UI with your name and the reason (docs/OPERATIONS.md, Operator controls).",
            f"A reminder follows every {format_duration(remind_every)} while it stays halted.",
        ]
    )
    return "Dispatcher HALTED - kill switch tripped", body


def reminder_message(reason: str, *, halted_since: datetime, now: datetime) -> tuple[str, str]:
    body = "\n".join(
        [
            f"Dispatching has been halted for {format_duration(now - halted_since)} (since {iso_z(halted_since)}): "
            f"{reason}.",
            "",
            "Pending recommendations still wait. Reset the switch with reset_kill_switch_job once the cause is fixed.",
        ]
    )
    return "Dispatcher STILL HALTED - kill switch", body


def reset_message(event: KillSwitchEvent, *, halted_since: datetime | None) -> tuple[str, str]:
    state = (
        f"It had been halted since {iso_z(halted_since)}."
        if halted_since is not None
        else "It was not halted (no alert since the last reset); failures before now no longer count."
    )
    body = "\n".join(
        [
            f"{event.operator} reset the dispatcher's kill switch at {iso_z(event.at)}: {event.reason}",
            "",
            state,
            "The next market_signals_job run dispatches the pending recommendations of the day again.",
        ]
    )
    return f"Dispatcher RESUMED - kill switch reset by {event.operator}"[:100], body


def _event(row: sa.Row) -> KillSwitchEvent:
    return KillSwitchEvent(row.event, row.at, row.reason, row.operator, row.run_id)


def latest_event(store: SqlStore, *, at: datetime | None = None, event: str | None = None) -> KillSwitchEvent | None:
    """The latest kill-switch event (of kind ``event``, at or before ``at``), or None."""
    query = sa.select(kill_switch_events)
    if at is not None:
        query = query.where(kill_switch_events.c.at <= at)
    if event is not None:
        query = query.where(kill_switch_events.c.event == event)
    with store.connect() as conn:
        row = conn.execute(
            query.order_by(kill_switch_events.c.at.desc(), kill_switch_events.c.id.desc()).limit(1)
        ).one_or_none()
    return _event(row) if row is not None else None


def halted_since(store: SqlStore) -> datetime | None:
    """When the current alerted halt began (its TRIPPED event), or None when the last event is a RESET/none."""
    last_trip = latest_event(store, event=TRIPPED)
    last_reset = latest_event(store, event=RESET)
    if last_trip is None or (last_reset is not None and last_reset.at >= last_trip.at):
        return None
    return last_trip.at


def record_event(store: SqlStore, event: KillSwitchEvent) -> KillSwitchEvent:
    """Append ``event`` to ``kill_switch_events``."""
    require_aware(event.at, "at")
    with store.begin(write=True) as conn:
        conn.execute(
            kill_switch_events.insert().values(
                event=event.event, at=event.at, reason=event.reason, operator=event.operator, run_id=event.run_id
            )
        )
    return event


def reset_kill_switch(
    store: SqlStore, *, operator: str, reason: str, at: datetime, run_id: str | None = None
) -> KillSwitchEvent:
    """Record an operator's reset; failures at or before ``at`` no longer count. Blank operator/reason: ValueError."""
    operator, reason = operator.strip(), reason.strip()
    if not operator:
        raise ValueError("A kill-switch reset needs the operator's name: set `operator` in the run config.")
    if not reason:
        raise ValueError(
            "A kill-switch reset needs a reason: set `reason` in the run config (what failed, what was fixed)."
        )
    return record_event(store, KillSwitchEvent(RESET, at, reason, operator, run_id))
