"""The markets domain: 5-minute bars of the watched tickers, and the 5-minute job that starts from them."""

import dagster as dg

from ops_assets.markets.assets import markets_assets
from ops_assets.markets.checks import markets_checks
from ops_assets.markets.jobs import market_signals_job
from ops_assets.markets.schedules import market_signals_schedule

defs = dg.Definitions(
    assets=dg.with_source_code_references(markets_assets),
    asset_checks=markets_checks,
    jobs=[market_signals_job],
    schedules=[market_signals_schedule],
)
