"""Nightly at 03:30 UTC, filed under that UTC day.

Why 03:30 UTC: the quietest hour of the platform's day. US markets and their after-hours session are closed
(22:30/23:30 New York), so the 5-minute market jobs find no new bars and few recommendations; the desk's day job
(16:30 Chicago, 21:30/22:30 UTC) is long done and its trading day (08:00 Chicago) hours away; the weekly
fundamentals run (Sunday 06:00 UTC) and the forecasting runs (17:30 New York, Saturday 10:00) do not overlap. Only
the minutely news poll keeps writing, a few rows a minute, which the dump's snapshot isolates.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ops_assets.backups.jobs import central_store_backup_job
from ops_assets.backups.partitions import backup_days


@dg.schedule(
    job=central_store_backup_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly central-store backup and restore drill, 03:30 UTC (the platform's quietest hour)",
)
def central_store_backup_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = context.scheduled_execution_time or datetime.now(UTC)
    return dg.RunRequest(partition_key=backup_days.get_partition_key_for_timestamp(tick.timestamp()))
