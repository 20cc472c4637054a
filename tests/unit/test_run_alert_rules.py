"""The run-failure alert rules: alert once, digest after the quiet period, recovered; errors in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ops_assets.monitoring.run_alerts import (
    ALERT,
    DIGEST,
    RECOVERED,
    SUPPRESS,
    FailedRun,
    after_digest,
    digest_message,
    dump_state,
    failure_message,
    load_state,
    on_failure,
    on_success,
    on_tick,
    recovered_message,
)
from ops_assets.run_events import error_summary, strip_class_path

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
QUIET = timedelta(minutes=60)
BASE = "https://dagster.example.com/"


def failed(minute: int, error: str = "the sentiment model is not there") -> FailedRun:
    return FailedRun(
        "news_job", f"run-{minute}", "2026-11-29", error, ("raw_news_events",), T0 + timedelta(minutes=minute)
    )


def play(minutes: list[int]) -> list[str]:
    streak, decisions = None, []
    for minute in minutes:
        decision, streak = on_failure(streak, failed(minute), quiet_period=QUIET)
        if decision == DIGEST:
            streak = after_digest(streak, now=failed(minute).at)
        decisions.append(decision)
    return decisions


def test_a_job_failing_every_minute_alerts_once_then_one_digest_per_quiet_period() -> None:
    decisions = play(list(range(150)))
    assert decisions[0] == ALERT
    assert [m for m, d in enumerate(decisions) if d != SUPPRESS] == [0, 60, 120]
    assert decisions.count(DIGEST) == 2


def test_the_digest_counts_the_failures_since_the_last_message() -> None:
    streak = None
    for minute in range(61):
        decision, streak = on_failure(streak, failed(minute, f"error {minute}"), quiet_period=QUIET)
    assert decision == DIGEST
    assert (streak.failures, streak.unreported) == (61, 60)
    subject, body = digest_message(streak, ui_base_url=BASE, now=failed(60).at)
    assert subject == "Run STILL FAILING - news_job: 60 more failures"
    assert (
        body.splitlines()[0]
        == "news_job is still failing: 60 more failed runs since the last message, 61 in a row over 1 h."
    )
    assert "Latest error: error 60" in body
    assert "Latest run: https://dagster.example.com/runs/run-60" in body
    assert after_digest(streak, now=failed(60).at).unreported == 0


def test_a_quiet_tick_sends_the_digest_when_no_more_runs_come() -> None:
    _, streak = on_failure(None, failed(0), quiet_period=QUIET)
    _, streak = on_failure(streak, failed(1), quiet_period=QUIET)
    assert on_tick(streak, now=T0 + timedelta(minutes=59), quiet_period=QUIET) is None
    assert on_tick(streak, now=T0 + timedelta(minutes=60), quiet_period=QUIET) == DIGEST
    # Nothing unreported (only the first failure): nothing to digest, however long it is quiet.
    _, single = on_failure(None, failed(0), quiet_period=QUIET)
    assert on_tick(single, now=T0 + timedelta(days=1), quiet_period=QUIET) is None


def test_success_after_a_streak_recovers_and_a_success_without_one_says_nothing() -> None:
    streak = None
    for minute in range(3):
        _, streak = on_failure(streak, failed(minute), quiet_period=QUIET)
    assert on_success(streak) == RECOVERED
    assert on_success(None) is None
    subject, body = recovered_message(streak, run_id="ok-1", ui_base_url=BASE, at=T0 + timedelta(minutes=5))
    assert subject == "Run RECOVERED - news_job after 3 failures"
    assert "succeeded again after 3 failed runs in a row (failing for 5 min)" in body
    assert "https://dagster.example.com/runs/ok-1" in body


def test_the_first_alert_names_job_partition_error_and_links_the_run() -> None:
    subject, body = failure_message(failed(0), ui_base_url=BASE, quiet_period=QUIET)
    assert subject == "Run FAILED - news_job: the sentiment model is not there"
    first = body.splitlines()[0]
    assert first == "news_job failed for partition 2026-11-29: the sentiment model is not there"
    assert "Run: https://dagster.example.com/runs/run-0" in body
    assert "Failed steps: raw_news_events" in body
    assert "one digest every 1 h" in body


def test_subjects_stay_within_the_sns_limit() -> None:
    subject, _ = failure_message(failed(0, "x" * 500), ui_base_url=BASE, quiet_period=QUIET)
    assert len(subject) == 100
    assert subject.endswith("...")


def test_state_round_trips_through_the_cursor() -> None:
    _, streak = on_failure(None, failed(0), quiet_period=QUIET)
    after, streaks = load_state(dump_state(42, {"news_job": streak}))
    assert after == 42
    assert streaks == {"news_job": streak}
    assert load_state(None) == (None, {})


def test_error_summary_drops_class_paths_and_dagster_wrappers() -> None:
    assert error_summary(["dagster._core.definitions.events.Failure: The model is not there.\n\nmore"]) == (
        "The model is not there."
    )
    wrapped = [
        "dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op"
        ' "raw_news_events"::',
        "FileNotFoundError: [Errno 2] No such file or directory: 'models/finbert'\n",
    ]
    assert error_summary(wrapped) == "FileNotFoundError: [Errno 2] No such file or directory: 'models/finbert'"
    assert error_summary(["resources.central_store.CentralStoreUnavailableError: Central store down"]) == (
        "Central store down"
    )
    assert error_summary(["", "  "]) == "unknown error"
    assert len(error_summary(["y" * 1000])) == 300
    assert strip_class_path("KeyError: 'x'") == "KeyError: 'x'"
