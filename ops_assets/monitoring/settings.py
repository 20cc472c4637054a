"""Settings of the platform's own alerts (``OPS_UI_BASE_URL``, ``OPS_ALERTS_QUIET_PERIOD_MINUTES``)."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
from pydantic import Field


class MonitoringSettings(dg.ConfigurableResource):
    """Where alert links point and how often a job that keeps failing may send a message."""

    ui_base_url: str = Field(
        default="http://localhost:3000", description="The Dagster UI's address, for the run links in alerts."
    )
    quiet_period_minutes: int = Field(
        default=60,
        description="After a job's first failure alert, at most one digest per this many minutes until it recovers.",
    )

    def quiet_period(self) -> timedelta:
        return timedelta(minutes=self.quiet_period_minutes)
