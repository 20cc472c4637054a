"""The ``ops_assets`` code location: every asset, check, job, schedule and sensor, and its resources."""

import dagster as dg

from ops_assets.environments import resources_for
from ops_assets.fundamentals.assets import fundamentals_assets
from ops_assets.fundamentals.jobs import weekly_fundamentals_job
from ops_assets.fundamentals.schedules import weekly_fundamentals_schedule
from ops_assets.fundamentals.sensors import fundamentals_failure_notification, fundamentals_success_notification
from ops_assets.markets.assets import markets_assets
from ops_assets.markets.checks import markets_checks
from ops_assets.monitoring.sensors import freshness_alerts
from ops_assets.news.assets import news_assets
from ops_assets.news.checks import news_checks
from ops_assets.news.schedules import news_job, news_schedule
from ops_assets.signals.assets import signals_assets
from ops_assets.signals.checks import signals_checks
from ops_assets.signals.schedules import market_signals_job, market_signals_schedule

defs = dg.Definitions(
    assets=[*fundamentals_assets, *news_assets, *markets_assets, *signals_assets],
    asset_checks=[*news_checks, *markets_checks, *signals_checks],
    jobs=[weekly_fundamentals_job, news_job, market_signals_job],
    schedules=[weekly_fundamentals_schedule, news_schedule, market_signals_schedule],
    sensors=[fundamentals_success_notification, fundamentals_failure_notification, freshness_alerts],
    resources=resources_for(),
    # One process per run: the Alpha Vantage rate limit is shared by every step, and small steps start
    # in seconds instead of paying a subprocess each.
    executor=dg.in_process_executor,
)
