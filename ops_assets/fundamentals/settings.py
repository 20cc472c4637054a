"""Settings of the fundamentals pipeline, one resource so every asset reads the same values.

Set them without code changes: environment variables (read in :mod:`ops_assets.environments`) or the
``fundamentals_settings`` resource config in the launchpad / ``dagster asset materialize --config``.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
from pydantic import Field, field_validator


class FundamentalsSettings(dg.ConfigurableResource):
    """Which ETF, how much history, and the refresh, cleaning and retention rules."""

    etf_symbol: str = Field(default="QQQ", description="ETF whose holdings form the universe (QQQ, IWB, SPY...).")
    history_start_date: str = Field(default="2004-12-31", description="First trading day in the artifact.")
    max_tickers: int = Field(default=0, description="Use only the first N holdings (0 = all); handy on free keys.")
    max_statement_age_days: int = Field(
        default=90, description="Fetch statements again when the stored copy is older than this, reports or not."
    )
    full_price_history: bool = Field(
        default=True,
        description="Fetch the full daily history when none is stored (outputsize=full needs a premium plan).",
    )
    min_quarters: int = Field(default=10, description="Tickers with fewer quarters are left out (as the original).")
    outlier_threshold: float = Field(
        default=8.0, description="Robust z-score above which a one-quarter spike is cleaned."
    )
    artifact_retention_days: int = Field(default=30, description="Published artifacts older than this are pruned.")

    @field_validator("etf_symbol")
    @classmethod
    def _upper(cls, value: str) -> str:
        value = value.strip().upper()
        if not value:
            raise ValueError("etf_symbol must not be empty")
        return value

    @field_validator("history_start_date")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        date.fromisoformat(value)
        return value

    @property
    def start_date(self) -> date:
        return date.fromisoformat(self.history_start_date)

    @property
    def max_statement_age(self) -> timedelta:
        return timedelta(days=self.max_statement_age_days)

    @property
    def artifact_retention(self) -> timedelta:
        return timedelta(days=self.artifact_retention_days)
