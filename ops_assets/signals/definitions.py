"""The signals domain: recommendations from sentiment and SMA20, the dry-run dispatcher, and its kill switch.

Run by the markets domain's 5-minute job (selected by group); its own job is the operators'
``reset_kill_switch_job``.
"""

import dagster as dg

from ops_assets.signals.assets import signals_assets
from ops_assets.signals.checks import signals_checks
from ops_assets.signals.jobs import reset_kill_switch_job

defs = dg.Definitions(
    assets=dg.with_source_code_references(signals_assets),
    asset_checks=signals_checks,
    jobs=[reset_kill_switch_job],
)
