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


def test_minutely_and_five_minute_schedules_run_today_and_skip_while_a_run_is_going() -> None:
    for name, cron in (("news_job_schedule", "* * * * *"), ("market_signals_job_schedule", "*/5 * * * *")):
        schedule = defs.get_schedule_def(name)
        assert schedule.cron_schedule == cron
        job_name = name.removesuffix("_schedule")
        with dg.instance_for_test() as instance:
            context = dg.build_schedule_context(
                instance=instance,
                scheduled_execution_time=datetime(2026, 11, 23, 12, 5, tzinfo=UTC),
                repository_def=defs.get_repository_def(),
            )
            [request] = schedule.evaluate_tick(context).run_requests
            assert request.partition_key == "2026-11-23"

            instance.add_run(dg.DagsterRun(job_name=job_name, run_id="r1", status=dg.DagsterRunStatus.STARTED))
            skipped = schedule.evaluate_tick(context)
            assert not skipped.run_requests
            assert "still going" in (skipped.skip_message or "")


def test_forecasting_runs_after_each_nyse_close_and_skips_holidays() -> None:
    from zoneinfo import ZoneInfo

    schedule = defs.get_schedule_def("forecasting_daily_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 17 * * 1-5", "America/New_York")
    new_york = ZoneInfo("America/New_York")
    with dg.instance_for_test() as instance:

        def tick(at: datetime) -> dg.ScheduleExecutionData:
            context = dg.build_schedule_context(
                instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
            )
            return schedule.evaluate_tick(context)

        # Either side of the DST switch, 17:30 New York is the same session day (22:30 / 21:30 UTC).
        for day in (datetime(2026, 3, 6, 17, 30, tzinfo=new_york), datetime(2026, 3, 9, 17, 30, tzinfo=new_york)):
            [request] = tick(day).run_requests
            assert request.partition_key == day.date().isoformat()
        # The half day after Thanksgiving is a session; Thanksgiving is not.
        assert tick(datetime(2026, 11, 27, 17, 30, tzinfo=new_york)).run_requests[0].partition_key == "2026-11-27"
        holiday = tick(datetime(2026, 11, 26, 17, 30, tzinfo=new_york))
        assert not holiday.run_requests
        assert "not an NYSE session" in (holiday.skip_message or "")
