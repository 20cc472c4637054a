"""The weekly fundamentals job."""

import dagster as dg

weekly_fundamentals_job = dg.define_asset_job(
    "weekly_fundamentals_job",
    selection=dg.AssetSelection.groups("fundamentals"),
    description="Fetch the ETF's holdings from Alpha Vantage and publish the week's TTM per-share artifact.",
    # Weekly and heavy: an ECS task of its own, the seed's container size: 2 vCPU, 4 GB, 30 GB ephemeral
    # storage (read by dagster-aws's EcsRunLauncher as task overrides).
    tags={"ops/launch": "ecs", "ecs/cpu": "2048", "ecs/memory": "4096", "ecs/ephemeral_storage": "30"},
)
