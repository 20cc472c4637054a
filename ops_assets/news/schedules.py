"""Every minute: poll the feeds and classify what arrived (today's partition, never two runs at once)."""

import dagster as dg

from ops_assets.scheduling import incremental_schedule

news_job = dg.define_asset_job(
    "news_job",
    selection=dg.AssetSelection.groups("news"),
    description="Poll the RSS feeds, store new items and classify them.",
    # Minutely: runs in the always-on code-location service, not an ECS task (see docs/ARCHITECTURE.md).
    tags={"ops/launch": "inline"},
)

news_schedule = incremental_schedule(news_job, "* * * * *", description="RSS news every minute")
