"""The forecasting domain: daily prices on the NYSE calendar, their checks, and the model's features."""

import dagster as dg

from ops_assets.forecasting.assets import forecasting_assets
from ops_assets.forecasting.checks import forecasting_checks
from ops_assets.forecasting.jobs import forecasting_daily_job
from ops_assets.forecasting.schedules import forecasting_daily_schedule

defs = dg.Definitions(
    assets=dg.with_source_code_references(forecasting_assets),
    asset_checks=forecasting_checks,
    jobs=[forecasting_daily_job],
    schedules=[forecasting_daily_schedule],
)
