"""The forecasting domain: daily prices on the NYSE calendar, checks, features, the LSTM and its registry,
predictions and their realised performance, drift checks, retraining and alerts."""

import dagster as dg

from ops_assets.forecasting.assets import forecasting_assets
from ops_assets.forecasting.checks import forecasting_checks
from ops_assets.forecasting.jobs import forecast_rollback_job, forecasting_daily_job, forecasting_training_job
from ops_assets.forecasting.schedules import forecasting_daily_schedule, forecasting_training_schedule
from ops_assets.forecasting.sensors import forecast_retrain_sensor

defs = dg.Definitions(
    assets=dg.with_source_code_references(forecasting_assets),
    asset_checks=forecasting_checks,
    jobs=[forecasting_daily_job, forecasting_training_job, forecast_rollback_job],
    schedules=[forecasting_daily_schedule, forecasting_training_schedule],
    sensors=[forecast_retrain_sensor],
)
