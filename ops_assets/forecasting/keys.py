"""Where the forecasting domain keeps things in the object store (same keys locally and on S3)."""

from __future__ import annotations

from datetime import date, datetime


def raw_key(ticker: str, day: date, source: str, start: date, end: date) -> str:
    """A provider's answer exactly as received, under the seed's ``year=/month=/day=`` layout of the run's last
    session; the file name says which range it covers (a backfill fetches a range in one request)."""
    return (
        f"forecasting/raw/{ticker}/year={day:%Y}/month={day:%m}/day={day:%d}/"
        f"{source}_{start.isoformat()}_{end.isoformat()}.json"
    )


def prices_key(ticker: str) -> str:
    """The ticker's stored history (split-adjusted) with its splits in the file's metadata."""
    return f"forecasting/prices/{ticker}.parquet"


def superseded_prices_key(ticker: str, at: datetime) -> str:
    """The previous version of a history the provider changed (restatement or split), kept for audits."""
    return f"forecasting/prices/_superseded/{ticker}/{at:%Y%m%dT%H%M%S%fZ}.parquet"


def features_key(ticker: str) -> str:
    return f"forecasting/features/{ticker}.parquet"
