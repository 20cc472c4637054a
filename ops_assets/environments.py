"""The one place where the environment picks the resources: ``OPS_ENV=local`` (default) or ``aws``.

local
    Object store = a folder laid out like the S3 bucket (``$OPS_DATA_DIR/object-store``, default
    ``.local_data/`` in the checkout), notifications to ``$OPS_DATA_DIR/outbox.jsonl`` plus the log, secrets
    from environment variables. Without ``ALPHA_VANTAGE_API_KEY`` the Alpha Vantage client talks to the
    bundled offline sample server (started in-process), so everything runs offline.
aws
    S3 bucket ``$OPS_BUCKET``, SNS topic ``$OPS_SNS_TOPIC_ARN``, the API key from SSM Parameter Store
    ``/avpipeline/alpha-vantage-api-key``. boto3 honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``,
    which is how tests point everything at moto. Dagster's own storage (PostgreSQL) is set in the instance's
    dagster.yaml (``infra/dagster.yaml``), not here.

Assets never know which environment they run in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg

from ops_assets.event_settings import EventPipelineSettings
from ops_assets.fundamentals.settings import FundamentalsSettings
from resources.alpha_vantage import DEFAULT_BASE_URL, SAMPLE_BASE_URL, AlphaVantageResource
from resources.central_store import CentralStore
from resources.market_data import AlphaVantageMarketData
from resources.notifier import LocalOutboxNotifier, SnsNotifier
from resources.object_store import LocalObjectStore, S3ObjectStore
from resources.rss import RssFetcher
from resources.secrets import EnvSecrets, SsmSecrets, StaticSecrets
from resources.sentiment import LexiconSentiment, TransformersSentiment

ENVIRONMENTS = ("local", "aws")
SAMPLE_REQUESTS_PER_MINUTE = 60_000.0
REPO_ROOT = Path(__file__).resolve().parents[1]


def current_environment() -> str:
    env = os.environ.get("OPS_ENV", "local").strip().lower() or "local"
    if env not in ENVIRONMENTS:
        raise ValueError(f"OPS_ENV={env!r} is not one of {', '.join(ENVIRONMENTS)}.")
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
    return type(default)(os.environ[name])


def fundamentals_settings() -> FundamentalsSettings:
    return FundamentalsSettings(
        etf_symbol=_env("AVPIPELINE_ETF_SYMBOL", "QQQ"),
        history_start_date=_env("AVPIPELINE_START_DATE", "2004-12-31"),
        max_tickers=_env("AVPIPELINE_MAX_TICKERS", 0),
    )


def alpha_vantage(secrets: Any) -> AlphaVantageResource:
    """The real API when a key is configured, otherwise (local only) the bundled sample server."""
    if current_environment() == "local" and not os.environ.get("ALPHA_VANTAGE_API_KEY"):
        return AlphaVantageResource(
            base_url=_env("ALPHA_VANTAGE_BASE_URL", SAMPLE_BASE_URL),
            secrets=StaticSecrets(values={"alpha-vantage-api-key": "sample"}),
            # The in-process sample server has no quota to protect.
            requests_per_minute=SAMPLE_REQUESTS_PER_MINUTE,
        )
    return AlphaVantageResource(
        base_url=_env("ALPHA_VANTAGE_BASE_URL", DEFAULT_BASE_URL),
        secrets=secrets,
        requests_per_minute=_env("ALPHA_VANTAGE_REQUESTS_PER_MINUTE", 75.0),
    )


def sentiment(default_backend: str) -> Any:
    """FinBERT (or the model at OPS_SENTIMENT_MODEL) with the transformers backend, else the lexicon.

    Locally the lexicon is the default: no model can be downloaded at run time, and the sample runs offline.
    """
    backend = os.environ.get("OPS_SENTIMENT_BACKEND") or default_backend
    if backend == "lexicon":
        return LexiconSentiment()
    if backend != "transformers":
        raise ValueError(f"OPS_SENTIMENT_BACKEND={backend!r} is not one of transformers, lexicon.")
    return TransformersSentiment(
        model=_env("OPS_SENTIMENT_MODEL", "ProsusAI/finbert"),
        quantize_int8=os.environ.get("OPS_SENTIMENT_INT8", "1") == "1",
    )


def event_resources(
    alpha_vantage_resource: AlphaVantageResource, central_store_url: Any, backend: str
) -> dict[str, Any]:
    return {
        "central_store": CentralStore(url=central_store_url),
        "rss_fetcher": RssFetcher(),
        "sentiment": sentiment(backend),
        "market_data": AlphaVantageMarketData(alpha_vantage=alpha_vantage_resource),
        "event_settings": EventPipelineSettings(),
    }


def local_resources() -> dict[str, Any]:
    data_dir = local_data_dir()
    av = alpha_vantage(EnvSecrets())
    store_url = _env("OPS_CENTRAL_STORE_URL", f"sqlite:///{data_dir / 'central_store.db'}")
    return {
        "alpha_vantage": av,
        "object_store": LocalObjectStore(root=str(data_dir / "object-store")),
        "notifier": LocalOutboxNotifier(outbox_path=str(data_dir / "outbox.jsonl")),
        "fundamentals_settings": fundamentals_settings(),
        **event_resources(av, store_url, backend="lexicon"),
    }


def aws_resources() -> dict[str, Any]:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    av = alpha_vantage(SsmSecrets(path_prefix="/avpipeline/", region_name=region))
    return {
        "alpha_vantage": av,
        "object_store": S3ObjectStore(bucket=dg.EnvVar("OPS_BUCKET"), region_name=region),
        "notifier": SnsNotifier(topic_arn=dg.EnvVar("OPS_SNS_TOPIC_ARN"), region_name=region),
        "fundamentals_settings": fundamentals_settings(),
        **event_resources(av, dg.EnvVar("OPS_CENTRAL_STORE_URL"), backend="transformers"),
    }


def resources_for(env: str | None = None) -> dict[str, Any]:
    return {"local": local_resources, "aws": aws_resources}[env or current_environment()]()
