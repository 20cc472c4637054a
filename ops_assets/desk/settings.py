"""Settings of the desk domain (``OPS_DESK_*``), as the ``desk_settings`` resource config in the launchpad."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from ops_assets.desk.parsing import ACTANT_TIMEZONE


class DeskSettings(dg.ConfigurableResource):
    """How Actant's files are read and how fresh the dashboard's keys must be during trading hours."""

    timezone: str = Field(default=ACTANT_TIMEZONE, description="The zone of Actant's naive timestamps.")
    market_max_age_seconds: int = Field(
        default=300, description="During trading hours, last_update:actant:market older than this is stale."
    )
    orders_max_age_seconds: int = Field(
        default=90, description="During trading hours, last_update:tt:orders older than this is stale (3 snapshots)."
    )
    reconcile_after_seconds: int = Field(
        default=30, description="A file still at its landing key after this is the reconciliation sensor's."
    )
