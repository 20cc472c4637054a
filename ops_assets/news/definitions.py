"""The news domain: RSS items every minute, classified with sentiment and the tickers they name."""

import dagster as dg

from ops_assets.news.assets import news_assets
from ops_assets.news.checks import news_checks
from ops_assets.news.jobs import news_job
from ops_assets.news.schedules import news_schedule

defs = dg.Definitions(
    assets=dg.with_source_code_references(news_assets),
    asset_checks=news_checks,
    jobs=[news_job],
    schedules=[news_schedule],
)
