"""Sunday 06:00 UTC (02:00 ET), as the original EventBridge rule `cron(0 6 ? * SUN *)`."""

import dagster as dg

from ops_assets.fundamentals.jobs import weekly_fundamentals_job

weekly_fundamentals_schedule = dg.build_schedule_from_partitioned_job(
    weekly_fundamentals_job,
    day_of_week=0,
    hour_of_day=6,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
