"""Where the fundamentals pipeline keeps things in the object store (same keys locally and on S3)."""

from __future__ import annotations

from datetime import date

RAW_PREFIX = "raw/alpha-vantage"
ARTIFACT_PREFIX = "ttm-artifacts/"
ARTIFACT_FILENAME = "ttm_per_share_financial_artifact.parquet"


def raw_key(function: str, symbol: str) -> str:
    """The latest raw payload of one Alpha Vantage function for one symbol, exactly as returned."""
    return f"{RAW_PREFIX}/{function}/{symbol}.json"


def manifest_key(symbol: str) -> str:
    """When a symbol's payloads were fetched (drives the statement refresh rule)."""
    return f"{RAW_PREFIX}/_manifest/{symbol}.json"


def holdings_key(as_of: date) -> str:
    return f"fundamentals/holdings/{as_of.isoformat()}.json"


def fetch_report_key(as_of: date) -> str:
    return f"fundamentals/fetch-reports/{as_of.isoformat()}.json"


def quarterly_key(as_of: date) -> str:
    return f"fundamentals/quarterly/{as_of.isoformat()}/quarterly_financials.parquet"


def cleaning_log_key(as_of: date) -> str:
    return f"fundamentals/quarterly/{as_of.isoformat()}/cleaning_log.parquet"


def left_out_key(as_of: date) -> str:
    """Tickers left out of the week's build, with the reason (fetch failures and unusable data)."""
    return f"fundamentals/quarterly/{as_of.isoformat()}/left_out.json"


def artifact_key(as_of: date) -> str:
    """``ttm-artifacts/YYYY-MM-DD/ttm_per_share_financial_artifact.parquet`` (the published contract)."""
    return f"{ARTIFACT_PREFIX}{as_of.isoformat()}/{ARTIFACT_FILENAME}"
