"""Settings of the housekeeping domain (``OPS_RUN_RETENTION_*``), as the ``housekeeping_settings`` resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from ops_assets.housekeeping.retention import RetentionPolicy


class HousekeepingSettings(dg.ConfigurableResource):
    """How long the Dagster instance keeps finished runs and their event logs."""

    run_max_age_days: int = Field(
        default=30, description="Succeeded and canceled runs older than this many days are deleted with their logs."
    )
    failed_run_max_age_days: int = Field(
        default=90, description="Failed runs are kept this many days (at least run_max_age_days)."
    )
    batch_size: int = Field(default=500, description="Runs read and deleted per batch.")

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy(
            max_age_days=self.run_max_age_days,
            failed_max_age_days=self.failed_run_max_age_days,
            batch_size=self.batch_size,
        )
