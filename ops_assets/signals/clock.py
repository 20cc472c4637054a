"""The wall clock of the signals domain: one place, so tests can set the time.

Callers use ``clock.utc_now()`` (attribute access, not ``from ... import utc_now``) so that a test's
``monkeypatch.setattr(clock, "utc_now", ...)`` reaches every reader: the dispatcher (which partition is "today",
when earlier days' recommendations expire, when the halt alert is sent), the reset job and the expiry check.
"""

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)
