"""The run-retention decision: which finished runs are old enough to delete, and where paging resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ops_assets.housekeeping.retention import (
    RetentionPolicy,
    RetentionReport,
    RetentionSettingsError,
    RunSummary,
    next_cursor,
    runs_to_delete,
)

NOW = datetime(2026, 11, 29, 3, 15, tzinfo=UTC)
POLICY = RetentionPolicy(max_age_days=30, failed_max_age_days=90)


def run(run_id: str, status: str, age_days: float) -> RunSummary:
    return RunSummary(run_id, status, NOW - timedelta(days=age_days))


def test_finished_runs_older_than_their_age_are_deleted_and_the_rest_kept() -> None:
    runs = [
        run("old-success", "SUCCESS", 31),
        run("old-canceled", "CANCELED", 45),
        run("young-success", "SUCCESS", 29),
        run("failed-40d", "FAILURE", 40),
        run("failed-91d", "FAILURE", 91),
        run("started-200d", "STARTED", 200),
        run("queued-60d", "QUEUED", 60),
        run("canceling-60d", "CANCELING", 60),
    ]
    report = RetentionReport()
    assert runs_to_delete(runs, NOW, POLICY, report=report) == ["old-success", "old-canceled", "failed-91d"]
    assert (report.examined, report.kept_in_progress, report.kept_failed) == (8, 3, 1)


def test_the_age_is_measured_at_the_boundary_exactly() -> None:
    exactly = run("exactly-30d", "SUCCESS", 30)
    just_over = RunSummary("30d-and-1s", "SUCCESS", NOW - timedelta(days=30, seconds=1))
    assert runs_to_delete([exactly, just_over], NOW, POLICY) == ["30d-and-1s"]


def test_naive_timestamps_are_read_as_utc() -> None:
    naive = RunSummary("naive", "SUCCESS", (NOW - timedelta(days=31)).replace(tzinfo=None))
    assert runs_to_delete([naive], NOW, POLICY) == ["naive"]


def test_a_run_holding_an_assets_latest_event_is_kept() -> None:
    report = RetentionReport()
    runs = [run("latest-of-an-asset", "SUCCESS", 120), run("superseded", "SUCCESS", 120)]
    assert runs_to_delete(runs, NOW, POLICY, protected={"latest-of-an-asset"}, report=report) == ["superseded"]
    assert report.kept_latest_asset_event == 1


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"max_age_days": 0}, "OPS_RUN_RETENTION_DAYS"),
        ({"max_age_days": 30, "failed_max_age_days": 7}, "OPS_FAILED_RUN_RETENTION_DAYS"),
        ({"batch_size": 0}, "OPS_RUN_RETENTION_BATCH_SIZE"),
    ],
)
def test_settings_that_would_delete_too_much_are_refused_naming_the_setting(kwargs: dict, names: str) -> None:
    with pytest.raises(RetentionSettingsError, match=names):
        RetentionPolicy(**kwargs)


def test_paging_resumes_after_the_last_run_that_stays() -> None:
    page = [run("a", "SUCCESS", 40), run("b", "FAILURE", 40), run("c", "SUCCESS", 40)]
    assert next_cursor(page, {"a", "c"}, cursor=None) == "b"
    # Everything deleted: the previous cursor (a run that stays) is still valid.
    assert next_cursor(page, {"a", "b", "c"}, cursor="z") == "z"
    assert next_cursor(page, set(), cursor="z") == "c"


def test_the_report_names_its_counts_for_the_ui() -> None:
    report = RetentionReport(examined=3, deleted=2, deleted_by_status={"SUCCESS": 1, "FAILURE": 1})
    metadata = report.as_metadata()
    assert metadata["runs deleted"] == 2
    assert metadata["failure runs deleted"] == 1
    assert metadata["success runs deleted"] == 1
