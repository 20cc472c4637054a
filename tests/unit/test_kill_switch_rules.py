"""When the kill switch alerts: once when it trips, a reminder per interval, never on every tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ops_assets.signals.dispatch import gate_of
from ops_assets.signals.killswitch import (
    REMINDED,
    RESET,
    TRIPPED,
    KillSwitchEvent,
    effective_reset,
    notice_to_send,
    reset_message,
    tripped_message,
)

T0 = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def notice(last: KillSwitchEvent | None, minutes: int, *, halted: bool = True, config_reset: datetime | None = None):
    return notice_to_send(
        halted=halted,
        last_event=last,
        config_reset_at=config_reset,
        now=T0 + timedelta(minutes=minutes),
        remind_every=HOUR,
    )


def test_a_halted_dispatcher_ticking_every_5_minutes_alerts_once_then_hourly() -> None:
    last, sent = None, []
    for minute in range(0, 150, 5):
        kind = notice(last, minute)
        if kind is not None:
            last = KillSwitchEvent(kind, T0 + timedelta(minutes=minute), "3 failures")
            sent.append((minute, kind))
    assert sent == [(0, TRIPPED), (60, REMINDED), (120, REMINDED)]


def test_after_a_reset_the_next_halt_is_a_new_trip() -> None:
    reset = KillSwitchEvent(RESET, T0, "broker fixed", "alice")
    assert notice(reset, 5) == TRIPPED
    # A reset through the config (the older way) also ends the alerted halt.
    trip = KillSwitchEvent(TRIPPED, T0, "3 failures")
    assert notice(trip, 5) is None
    assert notice(trip, 5, config_reset=T0 + timedelta(minutes=1)) == TRIPPED


def test_nothing_while_not_halted() -> None:
    assert notice(None, 0, halted=False) is None
    assert notice(KillSwitchEvent(TRIPPED, T0, "x"), 500, halted=False) is None


def test_the_later_reset_counts() -> None:
    assert effective_reset(None, None) is None
    assert effective_reset(T0, None) == T0
    assert effective_reset(T0, T0 + HOUR) == T0 + HOUR
    assert effective_reset(T0 + HOUR, T0) == T0 + HOUR


def test_messages_say_what_to_do_and_who_reset() -> None:
    subject, body = tripped_message("kill switch: 3 consecutive failures", remind_every=HOUR)
    assert subject == "Dispatcher HALTED - kill switch tripped"
    assert "reset_kill_switch_job" in body
    assert "every 1 h" in body
    subject, body = reset_message(KillSwitchEvent(RESET, T0, "broker fixed", "alice"), halted_since=T0 - HOUR)
    assert subject == "Dispatcher RESUMED - kill switch reset by alice"
    assert body.splitlines()[0] == "alice reset the dispatcher's kill switch at 2026-11-29T14:00:00Z: broker fixed"


def test_gate_of_a_rejection_reason() -> None:
    assert gate_of("stale data: latest bar 2026-11-20T14:00:00Z is 30 min old (max 15)") == "stale data"
    assert gate_of("max notional: 12000.00 exceeds 10000.00 per trade") == "max notional"
    assert gate_of(None) == "unknown"
