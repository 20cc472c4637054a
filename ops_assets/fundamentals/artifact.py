"""Building the quarterly table and the daily TTM per-share artifact from the stored raw payloads.

The artifact is written one ticker at a time into a single parquet file (a few row groups' worth of
memory at any moment), so an IWB-size universe (1,000 tickers x 20 years of trading days) fits in the
seed's 4 GB container. Tickers are processed in sorted order, which makes a rebuild from the same
inputs byte-for-byte identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ops_assets.fundamentals.daily import ARTIFACT_SCHEMA, build_daily_per_share, to_artifact_table
from ops_assets.fundamentals.keys import raw_key
from ops_assets.fundamentals.parsing import RawTickerData, parse_daily_prices, parse_splits
from ops_assets.fundamentals.quarterly import QUARTERLY_SCHEMA, build_quarterly_financials, to_quarterly_table

# Rows buffered before a row group is written: large enough for good compression and fast scans,
# small enough to keep memory flat whatever the universe size.
ROW_GROUP_ROWS = 250_000


class JsonReader(Protocol):
    """What the artifact build reads from the object store."""

    def get_json(self, key: str) -> Any: ...


def load_raw_ticker(store: JsonReader, ticker: str) -> RawTickerData:
    """The stored raw payloads of one ticker (``store`` is an object store resource)."""

    def get(function: str) -> dict:
        return store.get_json(raw_key(function, ticker))

    return RawTickerData(
        ticker=ticker,
        income_statement=get("INCOME_STATEMENT"),
        balance_sheet=get("BALANCE_SHEET"),
        cash_flow=get("CASH_FLOW"),
        earnings=get("EARNINGS"),
        daily_prices=get("TIME_SERIES_DAILY"),
        splits=get("SPLITS"),
    )


@dataclass
class QuarterlyBuild:
    frame: pd.DataFrame
    cleaning_log: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def tickers(self) -> list[str]:
        return sorted(self.frame["ticker"].unique()) if len(self.frame) else []


def build_quarterly(
    raw_by_ticker: Iterable[RawTickerData],
    *,
    start_date: date,
    as_of: date,
    min_quarters: int,
    outlier_threshold: float,
) -> QuarterlyBuild:
    """Quarterly statements with TTM sums for every usable ticker, plus what cleaning changed."""
    frames, logs, skipped = [], [], {}
    for raw in raw_by_ticker:
        try:
            result = build_quarterly_financials(
                raw,
                start_date=start_date,
                as_of=as_of,
                min_quarters=min_quarters,
                outlier_threshold=outlier_threshold,
            )
        except (ValueError, KeyError, TypeError) as exc:
            skipped[raw.ticker] = f"unusable data: {exc}"
            continue
        if result.skipped_reason:
            skipped[raw.ticker] = result.skipped_reason
            continue
        frames.append(result.frame)
        if len(result.cleaning_log):
            logs.append(result.cleaning_log)
    frame = to_quarterly_table(pd.concat(frames, ignore_index=True)).to_pandas() if frames else _empty(QUARTERLY_SCHEMA)
    log = (
        pd.concat(logs, ignore_index=True)
        if logs
        else pd.DataFrame(columns=["ticker", "fiscal_date_ending", "column", "original_value", "new_value", "rule"])
    )
    return QuarterlyBuild(frame=frame, cleaning_log=log, skipped=skipped)


def _empty(schema: pa.Schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas()


@dataclass
class ArtifactSummary:
    rows: int = 0
    rows_per_ticker: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    days_per_ticker: dict[str, tuple[date, date, int]] = field(default_factory=dict)
    """Ticker -> (first day, last day, trading days) in the artifact (tickers with rows only)."""

    @property
    def tickers(self) -> list[str]:
        return sorted(ticker for ticker, rows in self.rows_per_ticker.items() if rows)


PriceLoader = Callable[[str], tuple[pd.DataFrame, pd.DataFrame]]


def price_loader_from_store(store: JsonReader) -> PriceLoader:
    """Reads a ticker's stored daily prices and splits."""

    def load(ticker: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        prices = parse_daily_prices(store.get_json(raw_key("TIME_SERIES_DAILY", ticker)))
        splits = parse_splits(store.get_json(raw_key("SPLITS", ticker)))
        return prices, splits

    return load


def write_ttm_artifact(
    quarterly: pd.DataFrame,
    load_prices: PriceLoader,
    out_path: Path,
    *,
    start_date: date,
    as_of: date,
) -> ArtifactSummary:
    """Stream one row per ticker and trading day into ``out_path`` (parquet, ARTIFACT_SCHEMA)."""
    summary = ArtifactSummary()
    pending: list[pa.Table] = []
    pending_rows = 0
    with pq.ParquetWriter(out_path, ARTIFACT_SCHEMA, compression="zstd") as writer:
        for ticker, rows in quarterly.groupby("ticker", sort=True):
            try:
                prices, splits = load_prices(str(ticker))
                daily = build_daily_per_share(
                    rows.reset_index(drop=True), prices, splits, ticker=str(ticker), start_date=start_date, as_of=as_of
                )
            except (ValueError, KeyError, TypeError) as exc:
                summary.skipped[str(ticker)] = f"unusable prices or splits: {exc}"
                continue
            table = to_artifact_table(daily)
            summary.rows += table.num_rows
            summary.rows_per_ticker[str(ticker)] = table.num_rows
            if table.num_rows:
                span = pc.min_max(table["date"])
                summary.days_per_ticker[str(ticker)] = (span["min"].as_py(), span["max"].as_py(), table.num_rows)
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
    return summary
