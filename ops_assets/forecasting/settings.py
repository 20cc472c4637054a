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
    horizon: int = Field(default=1, description="Sessions ahead the model forecasts avg_price (1 = the next).")
    evaluation_origins: int = Field(default=60, description="Sessions in the walk-forward test window.")
    validation_origins: int = Field(default=40, description="Sessions in the search's validation window.")
    refit_every: int = Field(default=20, description="Walk-forward refits the model every this many origins.")
    search_trials: int = Field(default=4, description="Configs of the search grid tried (in order), at most.")
    search_budget_seconds: float = Field(default=300, description="No new search trial starts after this.")
    epochs: int = Field(default=30, description="Training epochs of every config.")
    promotion_margin: float = Field(
        default=0.02, description="A candidate must beat the champion's MASE by this fraction to be promoted."
    )
    drift_psi_threshold: float = Field(default=0.25, description="A feature's PSI above this is drift.")
    degradation_threshold: float = Field(
        default=1.25, description="Live 60-session MASE above this multiple of the backtest MASE is degradation."
    )
    retrain_min_interval_hours: float = Field(default=24, description="The retrain sensor asks at most this often.")

    @field_validator("tickers")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        tickers = list(dict.fromkeys(t.strip().upper() for t in value if t.strip()))
        if not tickers:
            raise ValueError("tickers is empty: name at least one ticker to forecast")
        return tickers
