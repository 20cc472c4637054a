"""Settings of the news domain: which feeds to poll and which company names to match besides the ETF holdings.

Set by :mod:`ops_assets.environments` from ``OPS_NEWS_*`` environment variables (see docs/ARCHITECTURE.md,
"Settings"), or as the ``news_settings`` resource config in the launchpad.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from ops_assets.news.ingest import FeedConfig


class NewsSettings(dg.ConfigurableResource):
    """RSS/Atom feeds to poll every minute, and company names to match news against."""

    feeds: dict[str, str] = Field(description="Feed name -> URL of the RSS or Atom feed.")
    company_names: dict[str, str] = Field(
        default_factory=dict,
        description="Ticker -> company name, matched in news on top of the ETF holdings (etf_holdings); "
        "a name given here wins over the holding's description.",
    )

    def feed_configs(self) -> list[FeedConfig]:
        return [FeedConfig(name, url) for name, url in self.feeds.items()]
