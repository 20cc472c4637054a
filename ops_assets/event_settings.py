"""Settings of the event pipeline (news, telemetry, signals, dispatch), one resource for all its assets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from ops_assets.news.ingest import FeedConfig
from ops_assets.news.tickers import TickerUniverse
from ops_assets.signals.risk import RiskLimits
from ops_assets.signals.rules import SignalConfig
from resources.sample_sources.alpha_vantage import DEFAULT_TICKERS, ERROR_TICKER
from resources.sample_sources.feeds import COMPANY_NAMES, SAMPLE_FEED_SCHEME, SAMPLE_FEEDS


class EventPipelineSettings(dg.ConfigurableResource):
    """Feeds to poll, tickers to watch, signal thresholds and the dispatcher's risk limits."""

    feeds: dict[str, str] = Field(
        default_factory=lambda: {name: f"{SAMPLE_FEED_SCHEME}{name}" for name in SAMPLE_FEEDS},
        description="Feed name -> URL. `sample://<name>` is the bundled offline sample feed server.",
    )
    watched_tickers: list[str] = Field(
        default_factory=lambda: [t for t in DEFAULT_TICKERS if t != ERROR_TICKER],
        description="Tickers with 5-minute telemetry and recommendations.",
    )
    company_names: dict[str, str] = Field(
        default_factory=lambda: dict(COMPANY_NAMES),
        description="Ticker -> company name: the universe news items are matched against.",
    )
    sentiment_window_minutes: int = 240
    min_articles: int = 3
    buy_threshold: float = 0.3
    sell_threshold: float = -0.3
    cooldown_minutes: int = 60
    max_trades_per_day: int = 10
    max_notional_per_trade: float = 10_000.0
    max_consecutive_failures: int = 3
    max_data_age_minutes: int = 15
    kill_switch_reset_at: str = Field(
        default="",
        description="ISO time of the last kill-switch reset: failures before it no longer count. Set it to resume.",
    )

    def kill_switch_reset(self) -> datetime | None:
        if not self.kill_switch_reset_at:
            return None
        reset = datetime.fromisoformat(self.kill_switch_reset_at)
        return reset if reset.tzinfo else reset.replace(tzinfo=UTC)

    def feed_configs(self) -> list[FeedConfig]:
        return [FeedConfig(name, url) for name, url in self.feeds.items()]

    def ticker_universe(self) -> TickerUniverse:
        return TickerUniverse.from_company_names(self.company_names)

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
