"""Time helpers every domain uses: one aware-datetime check, one UTC stamp, one way to say how long.

Plain functions, no Dagster. They live at the code location's top level (beside ``partitions.py``) because
domains share them and never import each other's modules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def require_aware(value: datetime, name: str) -> datetime:
    """``value`` unchanged if it carries a time zone; otherwise ``ValueError`` naming the argument.

    A naive time would be ambiguous against the UTC times the stores hold, and guessing could shift a window
    by hours.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value


def iso_z(value: datetime) -> str:
    """UTC ISO-8601 with a ``Z`` suffix and microseconds only when present: ``2026-01-05T14:33:00Z``."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def format_duration(value: timedelta | float | None) -> str:
    """How long, for a person: ``45 s``, ``12.3 s``, ``3 min 12 s``, ``90 min`` -> ``1 h 30 min``, ``4 h``, ``2 d 5 h``.

    The two largest units, the smaller one left out when it is zero. Accepts a timedelta or seconds; ``None``
    (a duration nobody measured) is ``unknown``; a negative duration counts as zero.
    """
    if value is None:
        return "unknown"
    seconds = max(value.total_seconds() if isinstance(value, timedelta) else float(value), 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds == int(seconds) else f"{seconds:.1f} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "min"),
        (minutes, "min", secs, "s"),
    ):
        if big:
            return f"{big} {big_unit}" + (f" {small} {small_unit}" if small else "")
    return f"{secs} s"
