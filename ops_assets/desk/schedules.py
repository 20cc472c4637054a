"""The desk day after the close, and the feed's freshness every 5 minutes of the trading day (Chicago time)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from ops_assets.desk.jobs import desk_day_job, desk_freshness_job
from ops_assets.desk.partitions import DESK_TIMEZONE


@dg.schedule(
    job=desk_day_job,
    cron_schedule="30 16 * * 1-5",
    execution_timezone=DESK_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The day's reconciliation and history at 16:30 Chicago, after Actant's EOD file",
)
def desk_day_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = context.scheduled_execution_time or datetime.now(ZoneInfo(DESK_TIMEZONE))
    return dg.RunRequest(partition_key=tick.astimezone(ZoneInfo(DESK_TIMEZONE)).date().isoformat())


desk_freshness_schedule = dg.ScheduleDefinition(
    name="desk_freshness_schedule",
    job=desk_freshness_job,
    cron_schedule="*/5 8-15 * * 1-5",
    execution_timezone=DESK_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Checks that the dashboard's last_update keys are fresh, every 5 minutes of the trading day",
)
