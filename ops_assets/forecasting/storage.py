"""Prices and features as parquet bytes. Plain, no Dagster.

A ticker's history and its splits are one object (the splits in the parquet schema's metadata), so a merge
that adjusts the history for a new split writes both or neither: a rerun can never adjust twice.
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ops_assets.forecasting import keys
from ops_assets.forecasting.prices import PRICE_COLUMNS, Split, empty_prices
from resources.object_store import ObjectNotFoundError

SPLITS_METADATA_KEY = b"ops.splits"


def prices_to_parquet(prices: pd.DataFrame, splits: list[Split]) -> bytes:
    table = pa.Table.from_pandas(prices[PRICE_COLUMNS], preserve_index=False)
    splits_json = json.dumps([{"day": s.day.isoformat(), "ratio": s.ratio} for s in splits])
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), SPLITS_METADATA_KEY: splits_json})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def prices_from_parquet(data: bytes | None) -> tuple[pd.DataFrame, list[Split]]:
    """The stored history and splits; empty for ``None`` (nothing stored yet)."""
    if data is None:
        return empty_prices(), []
    table = pq.read_table(io.BytesIO(data))
    raw = (table.schema.metadata or {}).get(SPLITS_METADATA_KEY, b"[]")
    splits = [Split(date.fromisoformat(s["day"]), float(s["ratio"])) for s in json.loads(raw)]
    prices = table.to_pandas()
    prices["day"] = pd.to_datetime(prices["day"]).dt.date
    return prices[PRICE_COLUMNS], splits


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


def frame_from_parquet(data: bytes) -> pd.DataFrame:
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
    if "day" in frame:
        frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


class BlobReader(Protocol):
    def get_bytes(self, key: str) -> bytes: ...


def load_features(store: BlobReader, tickers: list[str], *, up_to: date | None = None) -> dict[str, pd.DataFrame]:
    """Each ticker's stored features (cut at ``up_to``); tickers without features are left out."""
    frames = {}
    for ticker in tickers:
        try:
            frame = frame_from_parquet(store.get_bytes(keys.features_key(ticker)))
        except ObjectNotFoundError:
            continue
        frames[ticker] = frame if up_to is None else frame[frame["day"] <= up_to]
    return frames
