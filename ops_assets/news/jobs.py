"""The news job: poll the feeds, store new items, classify them."""

import dagster as dg

from ops_assets.news.assets import GROUP

news_job = dg.define_asset_job(
    "news_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Poll the RSS feeds, store new items and classify them.",
    # Minutely: runs in the always-on code-location service, not an ECS task (see docs/ARCHITECTURE.md); not
    # retried, the next tick polls again.
    tags={"ops/launch": "inline", "dagster/max_runtime": "600", "dagster/max_retries": "0"},
)
