"""Every 5 minutes: telemetry, recommendations and the dry-run dispatcher (today's partition)."""

import dagster as dg

from ops_assets.scheduling import incremental_schedule

market_signals_job = dg.define_asset_job(
    "market_signals_job",
    selection=dg.AssetSelection.groups("markets", "signals"),
    description="5-minute bars, then recommendations, then the dry-run dispatcher.",
    tags={"ops/launch": "inline"},
)

market_signals_schedule = incremental_schedule(
    market_signals_job, "*/5 * * * *", description="Telemetry, signals and dispatch every 5 minutes"
)
