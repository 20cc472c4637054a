"""The offline sample sources as resources: what ``OPS_ENV=local`` uses when no real source is configured.

Subclasses of the production resources that answer from the bundled sample servers (started in-process on
first use) instead of the outside APIs. Only :mod:`ops_assets.environments` picks them, so no asset and no
production resource has a sample branch. The ``SAMPLE_*`` values are the local defaults of the settings that
name outside sources (feeds, watched tickers, company names).
"""

from __future__ import annotations

import functools
import time
from datetime import date

from resources.alpha_vantage import AlphaVantageResource
from resources.price_source import PriceHistory, PriceSource
from resources.rss import FeedFetch, RssFetcher
from resources.sample_sources.actant import SAMPLE_DESK_DAY
from resources.sample_sources.alpha_vantage import DEFAULT_TICKERS, ERROR_TICKER
from resources.sample_sources.feeds import COMPANY_NAMES, SAMPLE_FEEDS, shared_feed_server
from resources.sample_sources.prices import SAMPLE_PRICE_SOURCE, sample_daily_history
from resources.sample_sources.server import shared_sample_server
from resources.sample_sources.tt_orders import TTOrdersSampleServer
from resources.working_orders import WORKING_ORDERS_PATH, TTWorkingOrdersSource

SAMPLE_FEED_SCHEME = "sample://"
"""Feed URLs of the form ``sample://<name>`` are served by the process-wide sample feed server."""

SAMPLE_FEED_URLS: dict[str, str] = {name: f"{SAMPLE_FEED_SCHEME}{name}" for name in SAMPLE_FEEDS}
SAMPLE_WATCHED_TICKERS: list[str] = [t for t in DEFAULT_TICKERS if t != ERROR_TICKER]
SAMPLE_COMPANY_NAMES: dict[str, str] = dict(COMPANY_NAMES)
"""Every company the sample news mentions, word-like tickers included (the sample ETF holds only some)."""

# The in-process sample server has no quota to protect.
SAMPLE_REQUESTS_PER_MINUTE = 60_000.0


class SampleAlphaVantageResource(AlphaVantageResource):
    """The Alpha Vantage client talking to the bundled offline sample server (no key, no network).

    Give it any ``secrets`` (none is read): ``SampleAlphaVantageResource(secrets=StaticSecrets(values={}))``.
    """

    base_url: str = "sample://alpha-vantage"
    requests_per_minute: float = SAMPLE_REQUESTS_PER_MINUTE

    def _resolve_endpoint(self) -> tuple[str, str]:
        return shared_sample_server().url, "sample"


class SampleRssFetcher(RssFetcher):
    """The feed fetcher, with ``sample://<name>`` URLs served by the bundled sample feed server."""

    def fetch(
        self, feed_name: str, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FeedFetch:
        if url.startswith(SAMPLE_FEED_SCHEME):
            url = shared_feed_server().url_for(url.removeprefix(SAMPLE_FEED_SCHEME))
        return super().fetch(feed_name, url, etag=etag, last_modified=last_modified)


class SamplePriceSource(PriceSource):
    """Daily prices from the offline generator (:func:`~resources.sample_sources.prices.sample_daily_history`).

    No HTTP: NYSE sessions from 2005-01-03 to ``SAMPLE_PRICES_END`` (2026-11-27), as traded, one split per
    ticker; every ticker has a series except ``SAMPLE_UNKNOWN_TICKER`` (``ZZZZ``), which fails as an unknown
    symbol would.
    """

    def daily_history(self, ticker: str, start: date, end: date) -> PriceHistory:
        return sample_daily_history(ticker, start, end)

    @property
    def source(self) -> str:
        return SAMPLE_PRICE_SOURCE


@functools.cache
def _sample_tt_server() -> TTOrdersSampleServer:
    # Orders appear, fill and cancel with the wall clock, as a live desk's would, in the instruments of the
    # Actant sample day whose files `make run` drops (so the option names match whatever the date).
    return TTOrdersSampleServer(clock=time.time, instruments_day=SAMPLE_DESK_DAY).start()


class SampleWorkingOrdersSource(TTWorkingOrdersSource):
    """TT working orders from the bundled sample server (started in-process on first use), sample credentials.

    Give it the sample's secret: ``SampleWorkingOrdersSource(secrets=StaticSecrets(values={"dev/tt-api":
    SAMPLE_TT_CREDENTIALS_JSON}))``.
    """

    @property
    def url(self) -> str:
        return _sample_tt_server().base_url.rstrip("/") + WORKING_ORDERS_PATH
