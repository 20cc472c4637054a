"""The desk's jobs: the day's reconciliation and history, and the trading-hours freshness check."""

import dagster as dg

from ops_assets.desk.assets import GROUP

desk_day_job = dg.define_asset_job(
    "desk_day_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Reconcile a desk day: process what the live consumer missed, replay the day's history, check it.",
    # Once a day after the close, seconds of work: the code-location service runs it (no ECS task).
    tags={"ops/launch": "inline", "dagster/max_runtime": "3600"},
)

desk_freshness_job = dg.define_asset_job(
    "desk_freshness_job",
    selection=dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey("desk_day_history"), "desk_feed_is_fresh")),
    description="Only the desk_feed_is_fresh check: are the dashboard's last_update keys fresh?",
    # Every 5 minutes: the code-location service runs it; a failed check is not retried, the next tick re-checks.
    tags={"ops/launch": "inline", "dagster/max_runtime": "300", "dagster/max_retries": "0"},
)
