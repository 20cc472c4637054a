"""Settings of the forecasting domain. Set by :mod:`ops_assets.environments` from ``OPS_FORECASTING_*``
environment variables, or as the ``forecasting_settings`` resource config in the launchpad."""

from __future__ import annotations

import dagster as dg
from pydantic import Field, field_validator


class ForecastingSettings(dg.ConfigurableResource):
    """Which tickers to forecast and the data-quality rules their prices must pass."""

    tickers: list[str] = Field(default_factory=lambda: ["AMZN"], description="Tickers to forecast.")
    history_start_date: str = Field(
        default="2005-01-03", description="First session fetched when a ticker has no stored history."
    )
    refetch_sessions: int = Field(
        default=10,
        description="Sessions before the run's first day fetched again, so a provider that changed them "
        "(a restatement or split) is noticed.",
    )
    validation_window_sessions: int = Field(default=260, description="Sessions the data checks look at.")
    jump_threshold: float = Field(default=0.25, description="A close-to-close change above this is flagged.")
    frozen_run_length: int = Field(default=3, description="This many identical bars in a row is a frozen feed.")

    @field_validator("tickers")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        tickers = list(dict.fromkeys(t.strip().upper() for t in value if t.strip()))
        if not tickers:
            raise ValueError("tickers is empty: name at least one ticker to forecast")
        return tickers
