"""The weekly schedule fires Sunday 06:00 UTC and runs the partition named after that Sunday."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ops_assets.definitions import defs


def test_sunday_tick_requests_that_sundays_partition() -> None:
    schedule = defs.get_schedule_def("weekly_fundamentals_job_schedule")
    assert schedule.cron_schedule == "0 6 * * 0"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
        )
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-22"
    assert request.job_name == "weekly_fundamentals_job"


def test_every_asset_has_a_freshness_policy_and_the_artifact_has_its_checks() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).freshness_policy is not None, key
    check_names = {check_key.name for check_key in graph.asset_check_keys}
    assert {"columns_and_types", "unique_ticker_date", "no_value_before_reported_date"} <= check_names
