"""After the close, every NYSE session: 17:30 New York time (DST-correct), the day's partition."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from ops_assets.forecasting.jobs import forecasting_daily_job, forecasting_training_job
from ops_assets.forecasting.partitions import NEW_YORK
from ops_assets.forecasting.trading_calendar import is_session


@dg.schedule(
    job=forecasting_daily_job,
    # 90 minutes after the regular close (30 after the extended session's data settles at most providers);
    # half days close at 13:00, earlier still.
    cron_schedule="30 17 * * 1-5",
    execution_timezone=NEW_YORK,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Prices, checks and features for each NYSE session, after the close (holidays skipped)",
)
def forecasting_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    tick = context.scheduled_execution_time or datetime.now(ZoneInfo(NEW_YORK))
    day = tick.astimezone(ZoneInfo(NEW_YORK)).date()
    if not is_session(day):
        return dg.SkipReason(f"{day} is not an NYSE session (holiday): nothing to fetch.")
    return dg.RunRequest(partition_key=day.isoformat())


forecasting_training_schedule = dg.ScheduleDefinition(
    name="forecasting_training_schedule",
    job=forecasting_training_job,
    cron_schedule="0 10 * * 6",
    execution_timezone=NEW_YORK,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekly retraining, Saturday 10:00 New York (the retrain sensor asks sooner on drift)",
)
