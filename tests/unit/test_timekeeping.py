"""The shared time helpers: one aware check, one UTC stamp, one duration format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ops_assets.timekeeping import format_duration, iso_z, require_aware


def test_require_aware_returns_aware_times_and_names_naive_ones() -> None:
    aware = datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert require_aware(aware, "now") is aware
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        require_aware(datetime(2026, 1, 5, 9, 30), "now")


def test_iso_z_is_utc_with_z() -> None:
    assert iso_z(datetime(2026, 1, 5, 9, 33, tzinfo=timezone(timedelta(hours=-5)))) == "2026-01-05T14:33:00Z"
    assert iso_z(datetime(2026, 1, 5, 14, 33, 0, 120, tzinfo=UTC)) == "2026-01-05T14:33:00.000120Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "unknown"),
        (45, "45 s"),
        (12.34, "12.3 s"),
        (-3, "0 s"),
        (192, "3 min 12 s"),
        (timedelta(minutes=5), "5 min"),
        (timedelta(minutes=90), "1 h 30 min"),
        (timedelta(hours=4), "4 h"),
        (timedelta(days=8), "8 d"),
        (timedelta(days=8, hours=2, minutes=59), "8 d 2 h"),
    ],
)
def test_format_duration(value: object, expected: str) -> None:
    assert format_duration(value) == expected
