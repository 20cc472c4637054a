"""Features of one ticker's daily prices, each computed only from sessions up to its own row. Plain, no Dagster.

``avg_price`` is the mean of the session's open, high, low and close, ``(O + H + L + C) / 4``. The seed names an
"avg_price calculation" without a formula; the two candidates are the midpoint ``(H + L) / 2`` and the OHLC mean.
We forecast the OHLC mean: it is the price of the session as a whole (open and close are where most volume
trades; high and low are single prints), so it moves less on one extreme tick than the midpoint, whose value is
set entirely by the two most extreme trades of the day.

Every column is backward-looking (returns against earlier sessions, trailing rolling windows), so the features
of day D never change when later sessions are added: :func:`price_features` of a prefix equals the prefix of
the features (tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURE_COLUMNS = [
    "avg_price",
    "log_return_1d",
    "log_return_5d",
    "volatility_5d",
    "volatility_20d",
    "avg_price_vs_sma20",
    "range_pct",
    "log_volume_z20",
]
"""The model's inputs, in order. ``avg_price`` is also the target (shifted by the horizon)."""


def avg_price(prices: pd.DataFrame) -> pd.Series:
    return (prices["open"] + prices["high"] + prices["low"] + prices["close"]) / 4.0


def price_features(prices: pd.DataFrame) -> pd.DataFrame:
    """One row per stored session, oldest first: ``day``, :data:`FEATURE_COLUMNS` (NaN until enough history) and
    ``close``."""
    ordered = prices.sort_values("day").reset_index(drop=True)
    avg = avg_price(ordered)
    log_avg = np.log(avg)
    log_return = log_avg.diff()
    sma20 = avg.rolling(20, min_periods=20).mean()
    log_volume = np.log1p(ordered["volume"].clip(lower=0))
    volume_mean = log_volume.rolling(20, min_periods=20).mean()
    volume_std = log_volume.rolling(20, min_periods=20).std()
    features = pd.DataFrame(
        {
            "day": ordered["day"],
            "avg_price": avg,
            "log_return_1d": log_return,
            "log_return_5d": log_avg.diff(5),
            "volatility_5d": log_return.rolling(5, min_periods=5).std(),
            "volatility_20d": log_return.rolling(20, min_periods=20).std(),
            "avg_price_vs_sma20": avg / sma20 - 1.0,
            "range_pct": (ordered["high"] - ordered["low"]) / avg,
            "log_volume_z20": (log_volume - volume_mean) / volume_std.replace(0.0, np.nan),
        }
    )
    # The session's close rides along (not a model input): the last-close baseline forecasts with it.
    features["close"] = ordered["close"]
    return features[["day", *FEATURE_COLUMNS, "close"]]
