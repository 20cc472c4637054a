"""The signals domain: recommendations from sentiment and SMA20, and the dry-run dispatcher.

Run by the markets domain's 5-minute job (selected by group), so it has no job or schedule of its own.
"""

import dagster as dg

from ops_assets.signals.assets import signals_assets
from ops_assets.signals.checks import signals_checks

defs = dg.Definitions(assets=dg.with_source_code_references(signals_assets), asset_checks=signals_checks)
