"""Run retention once a day, at a quiet hour."""

import dagster as dg

from ops_assets.housekeeping.jobs import run_retention_job

run_retention_schedule = dg.ScheduleDefinition(
    name="run_retention_schedule",
    job=run_retention_job,
    cron_schedule="15 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Deletes old finished runs and their event logs daily at 03:15 UTC",
)
