"""The 5-minute job: telemetry, then what the signals domain builds on it (recommendations, dry-run dispatch)."""

import dagster as dg

from ops_assets.markets.assets import GROUP

market_signals_job = dg.define_asset_job(
    "market_signals_job",
    # The signals domain's assets are selected by their group: domains meet through asset keys and groups.
    selection=dg.AssetSelection.groups(GROUP, "signals"),
    description="5-minute bars, then recommendations, then the dry-run dispatcher.",
    # Every 5 minutes: the code-location service runs it (a Fargate task per tick would spend up to minutes of
    # each tick starting); not retried, the next tick catches up.
    tags={"ops/launch": "inline", "dagster/max_runtime": "900", "dagster/max_retries": "0"},
)
