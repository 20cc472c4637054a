"""The one place where the environment picks the resources: ``OPS_ENV=local`` (default) or ``aws``.

local
    Object store = a folder laid out like the S3 bucket (``$OPS_DATA_DIR/object-store``, default
    ``.local_data/`` in the checkout), notifications to ``$OPS_DATA_DIR/outbox.jsonl`` plus the log, secrets
    from environment variables, the central store in SQLite. Every setting that names an outside source has an
    offline default: the bundled sample sources (``resources/sample_sources``, chosen here and nowhere else):
    the Alpha Vantage sample server unless ``ALPHA_VANTAGE_API_KEY`` is set, the sample RSS feeds, the sample
    tickers and company names.
aws
    S3 bucket ``$OPS_BUCKET``, SNS topic ``$OPS_SNS_TOPIC_ARN``, the API key from SSM Parameter Store
    ``/avpipeline/alpha-vantage-api-key``, the central store at ``$OPS_CENTRAL_STORE_URL``. No sample default:
    a setting that names an outside source (feeds, watched tickers) must be configured, and a missing one stops
    the code location from loading with a message that names it. boto3 honours ``AWS_ENDPOINT_URL`` /
    ``AWS_ENDPOINT_URL_<SERVICE>``, which is how tests point everything at moto. Dagster's own storage
    (PostgreSQL) is set in the instance's dagster.yaml (``infra/dagster.yaml``), not here.

Every setting is an ``OPS_*`` environment variable (the table in docs/ARCHITECTURE.md, "Settings"); in ECS the
task definition fills them from its environment or from SSM parameters. Assets never know which environment
they run in.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from ops_assets.backups.settings import BackupSettings
from ops_assets.desk.settings import DeskSettings
from ops_assets.forecasting.settings import ForecastingSettings
from ops_assets.fundamentals.settings import FundamentalsSettings
from ops_assets.housekeeping.settings import HousekeepingSettings
from ops_assets.markets.settings import MarketsSettings
from ops_assets.monitoring.settings import MonitoringSettings
from ops_assets.news.settings import NewsSettings
from ops_assets.signals.settings import SignalSettings
from resources.alpha_vantage import DEFAULT_BASE_URL, AlphaVantageResource
from resources.cache import RedisCache
from resources.central_store import CentralStore
from resources.desk_history import CentralStoreDeskHistory, DynamoDbDeskHistory
from resources.market_data import AlphaVantageMarketData
from resources.notifier import LocalOutboxNotifier, SnsNotifier
from resources.object_store import LocalObjectStore, S3ObjectStore
from resources.price_source import YAHOO_BASE_URL, AlphaVantagePriceSource, PriceSource, YahooChartPriceSource
from resources.rss import RssFetcher
from resources.secrets import EnvSecrets, SecretsManagerSecrets, SecretsResource, SsmSecrets, StaticSecrets
from resources.sentiment import LexiconSentiment, SentimentResource, TransformersSentiment
from resources.working_orders import TTWorkingOrdersSource

ENVIRONMENTS = ("local", "aws")
REPO_ROOT = Path(__file__).resolve().parents[1]

REQUIRED_IN_AWS = {
    "OPS_BUCKET": "the S3 bucket of the object store",
    "OPS_SNS_TOPIC_ARN": "the SNS topic notifications go to",
    "OPS_CENTRAL_STORE_URL": "the event pipeline's PostgreSQL database (a SQLAlchemy URL)",
    "OPS_NEWS_FEEDS": "the RSS/Atom feeds to poll, as name=url pairs (one per line or ;-separated) or a JSON object",
    "OPS_MARKETS_WATCHED_TICKERS": "the tickers with 5-minute telemetry, comma-separated",
    "OPS_REDIS_HOST": "the desk dashboard's Redis (ElastiCache, cluster mode disabled)",
    "OPS_TT_API_URL": "the TT REST API root the working orders are read from",
}
"""Settings ``OPS_ENV=aws`` cannot start without (locally each has an offline default)."""

RENAMED = {
    "AVPIPELINE_ETF_SYMBOL": "OPS_FUNDAMENTALS_ETF_SYMBOL",
    "AVPIPELINE_START_DATE": "OPS_FUNDAMENTALS_START_DATE",
    "AVPIPELINE_MAX_TICKERS": "OPS_FUNDAMENTALS_MAX_TICKERS",
    "ALPHA_VANTAGE_BASE_URL": "OPS_ALPHA_VANTAGE_BASE_URL",
    "ALPHA_VANTAGE_REQUESTS_PER_MINUTE": "OPS_ALPHA_VANTAGE_REQUESTS_PER_MINUTE",
}
"""Old names of settings: one set by habit stops the load instead of being silently ignored."""

PRICE_SOURCES = ("sample", "yahoo", "alpha_vantage")


class SettingsError(ValueError):
    """A setting is missing or unreadable; the message names the environment variable."""


def current_environment() -> str:
    env = os.environ.get("OPS_ENV", "local").strip().lower() or "local"
    if env not in ENVIRONMENTS:
        raise SettingsError(f"OPS_ENV={env!r} is not one of {', '.join(ENVIRONMENTS)}.")
    return env


def local_data_dir() -> Path:
    return Path(os.environ.get("OPS_DATA_DIR") or REPO_ROOT / ".local_data").resolve()


def _env(name: str, default: Any) -> Any:
    """A setting from the environment when set (shown as such in the UI), else the default."""
    if not os.environ.get(name):
        return default
    if isinstance(default, str):
        return dg.EnvVar(name)
    if isinstance(default, int) and not isinstance(default, bool):
        return dg.EnvVar.int(name)
    # Dagster's env-var config sources cover strings and ints only.
    try:
        return type(default)(os.environ[name])
    except ValueError:
        raise SettingsError(f"{name}={os.environ[name]!r} is not a {type(default).__name__}.") from None


def _parsed(name: str, parse: Callable[[str], Any], default: Any) -> Any:
    """A structured setting (list, mapping) read from the environment, else the default (``None``: required)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        if default is None:
            raise SettingsError(f"{name} is not set: {REQUIRED_IN_AWS[name]}.")
        return default
    try:
        return parse(raw)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{name} cannot be read: {exc}") from None


def parse_feeds(raw: str) -> dict[str, str]:
    """``name=url`` pairs, one per line or separated by ``;`` or spaces, or a JSON object ``{"name": "url"}``.

    Commas are not separators: they occur in URLs. Names must be unique and URLs http(s). Messages show a URL's
    scheme and host only: feed URLs can carry tokens.
    """
    if raw.startswith("{"):
        pairs = json.loads(raw)
        if not isinstance(pairs, dict) or not all(isinstance(v, str) for v in pairs.values()):
            raise ValueError('expected a JSON object {"feed name": "url", ...}')
        items = [(str(k), v) for k, v in pairs.items()]
    else:
        items = []
        for pair in re.split(r"[;\s]+", raw):
            if not pair:
                continue
            name, sep, url = pair.partition("=")
            if not sep or not url or not re.fullmatch(r"[\w.-]+", name):
                raise ValueError(f"an entry starting {pair[:12]!r}... is not name=url")
            items.append((name, url))
    feeds: dict[str, str] = {}
    for name, url in items:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"feed {name!r}: {parts.scheme or 'no scheme'}://{parts.netloc} is not an http(s) URL")
        if name in feeds:
            raise ValueError(f"feed {name!r} is named twice")
        feeds[name] = url
    if not feeds:
        raise ValueError("no feed is named")
    return feeds


def parse_tickers(raw: str) -> list[str]:
    """Comma- or whitespace-separated ticker symbols."""
    return [t for t in re.split(r"[,\s]+", raw) if t]


def parse_company_names(raw: str) -> dict[str, str]:
    """A JSON object ``{"TICKER": "Company name"}``."""
    names = json.loads(raw)
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        raise ValueError('expected a JSON object {"TICKER": "Company name", ...}')
    return {str(k).upper(): v for k, v in names.items()}


def check_settings(env: str) -> None:
    """Stop the load, naming every variable, when a renamed one is set or a required one is missing."""
    problems = [f"{old} is now called {new}." for old, new in RENAMED.items() if old in os.environ]
    if env == "aws":
        problems += [
            f"{name} is not set: {meaning}." for name, meaning in REQUIRED_IN_AWS.items() if not os.environ.get(name)
        ]
    if problems:
        raise SettingsError(f"OPS_ENV={env} cannot load its settings:\n  " + "\n  ".join(problems))


# ------------------------------------------------------------------------------------------------ per domain


def fundamentals_settings() -> FundamentalsSettings:
    return FundamentalsSettings(
        etf_symbol=_env("OPS_FUNDAMENTALS_ETF_SYMBOL", "QQQ"),
        history_start_date=_env("OPS_FUNDAMENTALS_START_DATE", "2004-12-31"),
        max_tickers=_env("OPS_FUNDAMENTALS_MAX_TICKERS", 0),
    )


def alpha_vantage(secrets: SecretsResource) -> AlphaVantageResource:
    return AlphaVantageResource(
        base_url=_env("OPS_ALPHA_VANTAGE_BASE_URL", DEFAULT_BASE_URL),
        secrets=secrets,
        requests_per_minute=_env("OPS_ALPHA_VANTAGE_REQUESTS_PER_MINUTE", 75.0),
    )


def sentiment(default_backend: str) -> SentimentResource:
    """FinBERT (or the model at OPS_SENTIMENT_MODEL) with the transformers backend, else the lexicon.

    Locally the lexicon is the default: no model can be downloaded at run time, and the sample runs offline.
    """
    backend = os.environ.get("OPS_SENTIMENT_BACKEND") or default_backend
    if backend == "lexicon":
        return LexiconSentiment()
    if backend != "transformers":
        raise SettingsError(f"OPS_SENTIMENT_BACKEND={backend!r} is not one of transformers, lexicon.")
    return TransformersSentiment(
        model=_env("OPS_SENTIMENT_MODEL", "ProsusAI/finbert"),
        quantize_int8=os.environ.get("OPS_SENTIMENT_INT8", "1") == "1",
    )


def housekeeping_settings() -> HousekeepingSettings:
    """Run retention: finished runs kept 30 days, failed ones 90 (the same in every environment)."""
    return HousekeepingSettings(
        run_max_age_days=_env("OPS_RUN_RETENTION_DAYS", 30),
        failed_run_max_age_days=_env("OPS_FAILED_RUN_RETENTION_DAYS", 90),
        batch_size=_env("OPS_RUN_RETENTION_BATCH_SIZE", 500),
    )


def domain_settings(
    *, feeds: dict[str, str] | None, watched_tickers: list[str] | None, company_names: dict[str, str]
) -> dict[str, Any]:
    """The settings resources of the event-pipeline domains; ``None`` defaults must come from the environment."""
    return {
        "news_settings": NewsSettings(
            feeds=_parsed("OPS_NEWS_FEEDS", parse_feeds, feeds),
            company_names=_parsed("OPS_NEWS_COMPANY_NAMES", parse_company_names, company_names),
        ),
        "markets_settings": MarketsSettings(
            watched_tickers=_parsed("OPS_MARKETS_WATCHED_TICKERS", parse_tickers, watched_tickers)
        ),
        "signal_settings": SignalSettings(
            kill_switch_reset_at=_env("OPS_SIGNALS_KILL_SWITCH_RESET_AT", ""),
            kill_switch_reminder_minutes=_env("OPS_SIGNALS_KILL_SWITCH_REMINDER_MINUTES", 60),
        ),
        "monitoring_settings": MonitoringSettings(
            ui_base_url=_env("OPS_UI_BASE_URL", "http://localhost:3000"),
            quiet_period_minutes=_env("OPS_ALERTS_QUIET_PERIOD_MINUTES", 60),
        ),
        "fundamentals_settings": fundamentals_settings(),
        "backup_settings": BackupSettings(keep=_env("OPS_BACKUP_KEEP", 7)),
        "housekeeping_settings": housekeeping_settings(),
    }


LOCAL_TRAINING = {"search_trials": 2, "epochs": 15}
"""Locally a training run takes well under a minute on two cores (two configs searched, fewer epochs)."""
AWS_TRAINING = {"search_trials": 4, "epochs": 30}


def forecasting_resources(av: AlphaVantageResource, default_source: str, training: dict[str, int]) -> dict[str, Any]:
    """The daily price source (``OPS_FORECASTING_PRICE_SOURCE``) and the forecasting settings."""
    name = os.environ.get("OPS_FORECASTING_PRICE_SOURCE") or default_source
    if name not in PRICE_SOURCES or (name == "sample" and current_environment() != "local"):
        allowed = PRICE_SOURCES if current_environment() == "local" else PRICE_SOURCES[1:]
        raise SettingsError(f"OPS_FORECASTING_PRICE_SOURCE={name!r} is not one of {', '.join(allowed)}.")
    source: PriceSource
    if name == "sample":
        from resources.sample_sources.resources import SamplePriceSource

        source = SamplePriceSource()
    elif name == "yahoo":
        source = YahooChartPriceSource(base_url=_env("OPS_YAHOO_BASE_URL", YAHOO_BASE_URL))
    else:
        source = AlphaVantagePriceSource(alpha_vantage=av)
    tickers = _parsed("OPS_FORECASTING_TICKERS", parse_tickers, ["AMZN"])
    settings = ForecastingSettings(
        tickers=tickers,
        search_trials=_env("OPS_FORECASTING_SEARCH_TRIALS", training["search_trials"]),
        epochs=_env("OPS_FORECASTING_EPOCHS", training["epochs"]),
    )
    return {"price_source": source, "forecasting_settings": settings}


def desk_resources(env: str, central_store_url: Any, region: str) -> dict[str, Any]:
    """The desk feed's Redis, history store and working-orders source."""
    redis_host = _env("OPS_REDIS_HOST", "127.0.0.1")
    redis_port = _env("OPS_REDIS_PORT", 6379)
    if env == "local":
        from resources.sample_sources.resources import SampleWorkingOrdersSource
        from resources.sample_sources.tt_orders import SAMPLE_TT_CREDENTIALS_JSON

        return {
            "desk_settings": DeskSettings(),
            "desk_cache": RedisCache(host=redis_host, port=redis_port),
            "desk_history": CentralStoreDeskHistory(store=CentralStore(url=central_store_url)),
            "working_orders": SampleWorkingOrdersSource(
                secrets=StaticSecrets(values={"dev/tt-api": SAMPLE_TT_CREDENTIALS_JSON})
            ),
        }
    secrets = SecretsManagerSecrets(region_name=region)
    return {
        "desk_settings": DeskSettings(),
        "desk_cache": RedisCache(
            host=redis_host,
            port=redis_port,
            tls=True,
            secrets=secrets,
            password_secret_name=_env("OPS_REDIS_SECRET", "dev/redis"),
        ),
        "desk_history": DynamoDbDeskHistory(table_suffix=_env("OPS_DESK_TABLE_SUFFIX", "dev"), region_name=region),
        "working_orders": TTWorkingOrdersSource(
            base_url=dg.EnvVar("OPS_TT_API_URL"),
            secrets=secrets,
            credentials_secret_name=_env("OPS_TT_SECRET", "dev/tt-api"),
        ),
    }


def event_resources(av: AlphaVantageResource, central_store_url: Any, backend: str) -> dict[str, Any]:
    return {
        "central_store": CentralStore(url=central_store_url),
        "sentiment": sentiment(backend),
        "market_data": AlphaVantageMarketData(alpha_vantage=av),
    }


# ------------------------------------------------------------------------------------------------ environments


def local_resources() -> dict[str, Any]:
    # The offline samples are a development fixture: imported here, for local only.
    from resources.sample_sources.resources import (
        SAMPLE_COMPANY_NAMES,
        SAMPLE_FEED_URLS,
        SAMPLE_WATCHED_TICKERS,
        SampleAlphaVantageResource,
        SampleRssFetcher,
    )

    check_settings("local")
    data_dir = local_data_dir()
    if os.environ.get("ALPHA_VANTAGE_API_KEY"):
        av = alpha_vantage(EnvSecrets())
        # The sample tickers do not exist at the real provider: with a real key, none are watched until
        # OPS_MARKETS_WATCHED_TICKERS names them (market_telemetry says so; fundamentals need none).
        watched: list[str] = []
    else:
        av = SampleAlphaVantageResource(secrets=StaticSecrets(values={}))
        watched = SAMPLE_WATCHED_TICKERS
    store_url = _env("OPS_CENTRAL_STORE_URL", f"sqlite:///{data_dir / 'central_store.db'}")
    return {
        "alpha_vantage": av,
        "object_store": LocalObjectStore(root=str(data_dir / "object-store")),
        "notifier": LocalOutboxNotifier(outbox_path=str(data_dir / "outbox.jsonl")),
        "rss_fetcher": SampleRssFetcher(),
        **event_resources(av, store_url, backend="lexicon"),
        **domain_settings(feeds=SAMPLE_FEED_URLS, watched_tickers=watched, company_names=SAMPLE_COMPANY_NAMES),
        **forecasting_resources(av, default_source="sample", training=LOCAL_TRAINING),
        **desk_resources("local", store_url, region="us-east-1"),
    }


def aws_resources() -> dict[str, Any]:
    check_settings("aws")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    av = alpha_vantage(SsmSecrets(path_prefix="/avpipeline/", region_name=region))
    return {
        "alpha_vantage": av,
        "object_store": S3ObjectStore(bucket=dg.EnvVar("OPS_BUCKET"), region_name=region),
        "notifier": SnsNotifier(topic_arn=dg.EnvVar("OPS_SNS_TOPIC_ARN"), region_name=region),
        "rss_fetcher": RssFetcher(),
        **event_resources(av, dg.EnvVar("OPS_CENTRAL_STORE_URL"), backend="transformers"),
        **domain_settings(feeds=None, watched_tickers=None, company_names={}),
        **forecasting_resources(av, default_source="yahoo", training=AWS_TRAINING),
        **desk_resources("aws", dg.EnvVar("OPS_CENTRAL_STORE_URL"), region=region),
    }


def sample_replay_day() -> date | None:
    """The last trading day of the bundled sample prices when ``local`` runs on them (``make run`` replays it)."""
    if current_environment() != "local" or os.environ.get("ALPHA_VANTAGE_API_KEY"):
        return None
    from resources.sample_sources.alpha_vantage import SAMPLE_END

    return SAMPLE_END


def sample_forecasting_day() -> date | None:
    """The last session the bundled daily-price sample serves, when ``local`` forecasts from it (``make run``)."""
    if current_environment() != "local" or os.environ.get("OPS_FORECASTING_PRICE_SOURCE", "sample") != "sample":
        return None
    from resources.sample_sources.prices import SAMPLE_PRICES_END

    return SAMPLE_PRICES_END


def sample_desk_files() -> list[tuple[str, bytes]]:
    """A few sample Actant files for ``make run`` (four market-data files, the EOD file, one malformed file)."""
    from resources.sample_sources.actant import sample_eod_file, sample_malformed_file, sample_market_files

    return [*sample_market_files()[:4], sample_eod_file(), sample_malformed_file("nan_price")]


def resources_for(env: str | None = None) -> dict[str, Any]:
    return {"local": local_resources, "aws": aws_resources}[env or current_environment()]()
