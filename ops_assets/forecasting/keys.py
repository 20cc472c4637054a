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


def predictions_key(day: date) -> str:
    """The champion's forecasts made after the close of ``day`` (one row per ticker)."""
    return f"forecasting/predictions/year={day:%Y}/month={day:%m}/day={day:%d}/predictions.parquet"


PREDICTIONS_PREFIX = "forecasting/predictions/"


def performance_key(day: date) -> str:
    """Realised errors of every prediction whose target session is on or before ``day``, and rolling MASE."""
    return f"forecasting/performance/{day.isoformat()}.parquet"


def report_key(day: date) -> str:
    return f"forecasting/reports/{day:%Y}/{day:%m}/{day:%d}/forecast_report.png"
