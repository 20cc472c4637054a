"""The daily forecasting job: the day's prices, their checks, then the features."""

import dagster as dg

from ops_assets.forecasting.assets import GROUP

forecasting_daily_job = dg.define_asset_job(
    "forecasting_daily_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="After the NYSE close: fetch the session's prices, check them, compute the features.",
    # Small and daily: the code-location service runs it (training comes as its own ECS-sized job).
    tags={"ops/launch": "inline"},
)
