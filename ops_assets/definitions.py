"""The ``ops_assets`` code location: every asset, check, job, schedule and sensor, and its resources."""

import dagster as dg

from ops_assets.environments import resources_for
from ops_assets.fundamentals.assets import fundamentals_assets
from ops_assets.fundamentals.jobs import weekly_fundamentals_job
from ops_assets.fundamentals.schedules import weekly_fundamentals_schedule
from ops_assets.fundamentals.sensors import fundamentals_failure_notification, fundamentals_success_notification

defs = dg.Definitions(
    assets=[*fundamentals_assets],
    jobs=[weekly_fundamentals_job],
    schedules=[weekly_fundamentals_schedule],
    sensors=[fundamentals_success_notification, fundamentals_failure_notification],
    resources=resources_for(),
    # One process per run: the Alpha Vantage rate limit is shared by every step, and small steps start
    # in seconds instead of paying a subprocess each.
    executor=dg.in_process_executor,
)
