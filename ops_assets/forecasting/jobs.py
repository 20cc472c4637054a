"""The forecasting jobs: the daily data-and-predictions job, and training (its own, sized for an ECS task)."""

import dagster as dg

from ops_assets.forecasting.assets import GROUP

TRAINING_ASSET = "forecast_model"

forecasting_daily_job = dg.define_asset_job(
    "forecasting_daily_job",
    selection=dg.AssetSelection.groups(GROUP) - dg.AssetSelection.assets(TRAINING_ASSET),
    description="After the NYSE close: the session's prices and checks, features, the champion's forecasts, and "
    "the realised performance of earlier forecasts.",
    # Small and daily: the code-location service runs it.
    tags={"ops/launch": "inline"},
)

forecasting_training_job = dg.define_asset_job(
    "forecasting_training_job",
    selection=dg.AssetSelection.assets(TRAINING_ASSET),
    description="Search, walk-forward evaluation and the promotion gate: a new model version, promoted or not.",
    # Training is CPU-bound for minutes: an ECS task of its own (read by the ECS run launcher).
    tags={"ops/launch": "ecs", "ecs/cpu": "2048", "ecs/memory": "8192"},
)
