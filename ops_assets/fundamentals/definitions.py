"""The fundamentals domain: weekly holdings -> raw Alpha Vantage data -> quarterly financials -> TTM artifact."""

import dagster as dg

from ops_assets.fundamentals.assets import fundamentals_assets
from ops_assets.fundamentals.jobs import weekly_fundamentals_job
from ops_assets.fundamentals.schedules import weekly_fundamentals_schedule
from ops_assets.fundamentals.sensors import fundamentals_failure_notification, fundamentals_success_notification

defs = dg.Definitions(
    assets=dg.with_source_code_references(fundamentals_assets),
    jobs=[weekly_fundamentals_job],
    schedules=[weekly_fundamentals_schedule],
    sensors=[fundamentals_success_notification, fundamentals_failure_notification],
)
