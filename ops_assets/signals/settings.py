"""Settings of the signals domain: the signal rule's thresholds and the dispatcher's risk limits.

Defaults are the seed's rules; change them as the ``signal_settings`` resource config in the launchpad, or
``OPS_SIGNALS_KILL_SWITCH_RESET_AT`` / ``OPS_SIGNALS_KILL_SWITCH_REMINDER_MINUTES`` (read in
:mod:`ops_assets.environments`). Operators reset the kill switch with ``reset_kill_switch_job``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from ops_assets.signals.risk import RiskLimits
from ops_assets.signals.rules import SignalConfig


class SignalSettings(dg.ConfigurableResource):
    """When news sentiment and price make a recommendation, and the risk gates a dry-run fill must pass."""

    sentiment_window_minutes: int = Field(default=240, description="Articles younger than this count.")
    min_articles: int = Field(default=3, description="Articles a ticker needs in the window.")
    buy_threshold: float = Field(default=0.3, description="Mean sentiment at or above this (close > SMA20): BUY.")
    sell_threshold: float = Field(default=-0.3, description="Mean sentiment at or below this (close < SMA20): SELL.")
    cooldown_minutes: int = Field(default=60, description="No second recommendation for a ticker within this.")
    max_trades_per_day: int = 10
    max_notional_per_trade: float = 10_000.0
    max_consecutive_failures: int = Field(default=3, description="Failures in a row that trip the kill switch.")
    max_data_age_minutes: int = Field(default=15, description="A fill needs a bar at most this old.")
    kill_switch_reset_at: str = Field(
        default="",
        description="ISO time of a kill-switch reset by config (the older way; reset_kill_switch_job records "
        "resets with who and why): failures before it no longer count.",
    )
    kill_switch_reminder_minutes: int = Field(
        default=60, description="While the kill switch stays tripped, a reminder alert this often (one alert per trip)."
    )

    def kill_switch_reset(self) -> datetime | None:
        if not self.kill_switch_reset_at:
            return None
        reset = datetime.fromisoformat(self.kill_switch_reset_at)
        return reset if reset.tzinfo else reset.replace(tzinfo=UTC)

    def kill_switch_reminder(self) -> timedelta:
        return timedelta(minutes=self.kill_switch_reminder_minutes)

    def signal_config(self) -> SignalConfig:
        return SignalConfig(
            sentiment_window=timedelta(minutes=self.sentiment_window_minutes),
            min_articles=self.min_articles,
            buy_threshold=self.buy_threshold,
            sell_threshold=self.sell_threshold,
            cooldown=timedelta(minutes=self.cooldown_minutes),
        )

    def risk_limits(self) -> RiskLimits:
        return RiskLimits(
            max_trades_per_day=self.max_trades_per_day,
            max_notional_per_trade=self.max_notional_per_trade,
            max_consecutive_failures=self.max_consecutive_failures,
            max_data_age=timedelta(minutes=self.max_data_age_minutes),
        )
