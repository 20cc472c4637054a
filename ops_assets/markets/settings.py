"""Settings of the markets domain: the tickers whose 5-minute bars are polled.

Set by :mod:`ops_assets.environments` from ``OPS_MARKETS_WATCHED_TICKERS``, or as the ``markets_settings``
resource config in the launchpad.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field, field_validator


class MarketsSettings(dg.ConfigurableResource):
    """Tickers with 5-minute telemetry (and so with recommendations: signals evaluate what has bars)."""

    watched_tickers: list[str] = Field(description="Ticker symbols, as the market data provider spells them.")

    @field_validator("watched_tickers")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        # Upper case, no blanks, no repeats, order kept.
        return list(dict.fromkeys(t.strip().upper() for t in value if t.strip()))
