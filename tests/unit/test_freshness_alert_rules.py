"""Which freshness state changes notify, and what the notification says (plain functions, no Dagster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ops_assets.monitoring.alerts import FreshnessChange, changes_to_report, freshness_message


@pytest.mark.parametrize(
    ("reported", "current", "expected"),
    [
        (None, "PASS", None),  # first sight, fine: nothing to say
        (None, "FAIL", (None, "FAIL")),  # first sight and already late (e.g. the daemon was down for a week)
        ("PASS", "WARN", ("PASS", "WARN")),
        ("WARN", "WARN", None),
        ("WARN", "FAIL", ("WARN", "FAIL")),  # escalation says it again
        ("FAIL", "WARN", None),  # a de-escalation is not a recovery
        ("FAIL", "PASS", ("FAIL", "PASS")),
        ("WARN", "PASS", ("WARN", "PASS")),
        ("PASS", "PASS", None),
        ("FAIL", "UNKNOWN", None),  # nothing known: keep what was last said
        (None, "NOT_APPLICABLE", None),
    ],
)
def test_which_changes_notify(reported: str | None, current: str, expected: tuple[str | None, str] | None) -> None:
    previous = {"raw_news_events": reported} if reported else {}
    to_report, _ = changes_to_report(previous, {"raw_news_events": current})
    assert to_report.get("raw_news_events") == expected


def test_the_cursor_remembers_the_last_reported_state_and_ignores_unknowns() -> None:
    _, cursor = changes_to_report({"a": "FAIL"}, {"a": "UNKNOWN", "b": "WARN", "c": "PASS"})
    assert cursor == {"a": "FAIL", "b": "WARN", "c": "PASS"}


def test_one_message_covers_stale_and_recovered_assets() -> None:
    now = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    subject, body = freshness_message(
        [
            FreshnessChange(
                "ttm_per_share",
                "WARN",
                "FAIL",
                last_materialized_at=now - timedelta(days=8, hours=2),
                warn_after=timedelta(days=7, hours=6),
                fail_after=timedelta(days=8),
            ),
            FreshnessChange("raw_news_events", "FAIL", "PASS", last_materialized_at=now - timedelta(seconds=20)),
        ],
        now=now,
    )
    assert subject == "Freshness FAIL - 1 stale: ttm_per_share"
    assert "ttm_per_share: WARN -> FAIL; last updated 2026-11-15 13:30:00 UTC (8 d 2 h ago)" in body
    assert "expected within 8 d (warning after 7 d 6 h)" in body
    assert "These assets are fresh again:\n  - raw_news_events: FAIL -> PASS; last updated" in body
    assert "(20 s ago)" in body
    assert "Deployment >\nDaemons" in body


def test_recovery_only_message() -> None:
    subject, body = freshness_message([FreshnessChange("market_telemetry", "WARN", "PASS")], now=datetime.now(UTC))
    assert subject == "Freshness RECOVERED - market_telemetry"
    assert body == "These assets are fresh again:\n  - market_telemetry: WARN -> PASS"


def test_a_long_subject_names_what_fits_and_counts_the_rest() -> None:
    names = [f"asset_with_a_rather_long_name_{i}" for i in range(6)]
    subject, body = freshness_message([FreshnessChange(n, "PASS", "FAIL") for n in names], now=datetime.now(UTC))
    assert len(subject) <= 100
    assert subject == (
        "Freshness FAIL - 6 stale: asset_with_a_rather_long_name_0, asset_with_a_rather_long_name_1, +4 more"
    )
    assert all(name in body for name in names)  # the body still lists every one


def test_a_never_materialized_asset_is_late_once_its_window_passed_since_its_schedule_started() -> None:
    from ops_assets.monitoring.alerts import never_materialized_state

    started = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    windows = {"warn_after": timedelta(minutes=3), "fail_after": timedelta(minutes=10)}
    assert never_materialized_state(watched_since=started, now=started + timedelta(minutes=2), **windows) == "UNKNOWN"
    assert never_materialized_state(watched_since=started, now=started + timedelta(minutes=3), **windows) == "WARN"
    assert never_materialized_state(watched_since=started, now=started + timedelta(minutes=10), **windows) == "FAIL"
    # Nothing running targets it: nobody promised it, it stays UNKNOWN.
    assert never_materialized_state(watched_since=None, now=started + timedelta(days=9), **windows) == "UNKNOWN"
