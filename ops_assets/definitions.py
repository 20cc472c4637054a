"""The ``ops_assets`` code location: every domain's definitions, merged, with the environment's resources.

Each domain assembles itself in ``ops_assets/<domain>/definitions.py``; this module only merges them and adds
what is shared: the resources (picked per environment in :mod:`ops_assets.environments`) and the executor.
"""

import dagster as dg

from ops_assets.backups import definitions as backups
from ops_assets.desk import definitions as desk
from ops_assets.environments import resources_for
from ops_assets.forecasting import definitions as forecasting
from ops_assets.fundamentals import definitions as fundamentals
from ops_assets.housekeeping import definitions as housekeeping
from ops_assets.markets import definitions as markets
from ops_assets.monitoring import definitions as monitoring
from ops_assets.news import definitions as news
from ops_assets.signals import definitions as signals

DOMAINS = (fundamentals, news, markets, signals, forecasting, desk, monitoring, backups, housekeeping)

defs = dg.Definitions.merge(
    *(domain.defs for domain in DOMAINS),
    dg.Definitions(
        resources=resources_for(),
        # One process per run: the Alpha Vantage rate limit is shared by every step, and small steps start
        # in seconds instead of paying a subprocess each.
        executor=dg.in_process_executor,
    ),
)
