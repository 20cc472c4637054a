"""Data-quality rules for one ticker's stored daily prices. Plain functions over a frame, no Dagster.

The checks in ``checks.py`` apply them to each ticker's last ``validation_window_sessions`` sessions; a
failure stops features and training for the run (blocking checks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ops_assets.forecasting.prices import PRICE_COLUMNS, likely_split_ratio


@dataclass(frozen=True)
class Jump:
    day: date
    change: float
    """Relative change of the close from the previous session (0.3 = +30 %)."""
    cause: str
    """``"move"`` or ``"split p:q?"`` (a jump a split of that ratio would explain)."""


def missing_and_duplicate_sessions(prices: pd.DataFrame, sessions: Sequence[date]) -> tuple[list[date], list[date]]:
    """Sessions of ``sessions`` with no row, and days with more than one row (within the sessions' span)."""
    days = prices["day"]
    span = days[(days >= sessions[0]) & (days <= sessions[-1])] if sessions else days.iloc[0:0]
    missing = sorted(set(sessions) - set(span))
    duplicated = sorted(set(span[span.duplicated()]))
    return missing, duplicated


def inconsistent_bars(prices: pd.DataFrame) -> list[date]:
    """Days whose bar is impossible: a price not positive and finite, low above open/close, high below them,
    or a negative volume."""
    values = prices[PRICE_COLUMNS[1:]].to_numpy(dtype=float)
    opens, highs, lows, closes, volumes = values.T
    bad = ~np.isfinite(values).all(axis=1)
    bad |= (values[:, :4] <= 0).any(axis=1)
    bad |= lows > np.minimum(opens, closes) + 1e-9
    bad |= highs < np.maximum(opens, closes) - 1e-9
    bad |= volumes < 0
    return sorted(prices.loc[bad, "day"].tolist())


def frozen_runs(prices: pd.DataFrame, run_length: int) -> list[tuple[date, date]]:
    """Runs of at least ``run_length`` consecutive rows with identical OHLCV (a feed repeating a stale bar)."""
    ordered = prices.sort_values("day")
    same_as_previous = (ordered[PRICE_COLUMNS[1:]].diff().abs().sum(axis=1) == 0).to_numpy()
    same_as_previous[:1] = False
    runs, start = [], None
    days = ordered["day"].tolist()
    for index, same in enumerate([*same_as_previous, False]):
        if same and start is None:
            start = index - 1
        elif not same and start is not None:
            if index - start >= run_length:
                runs.append((days[start], days[index - 1]))
            start = None
    return runs


def outsized_jumps(prices: pd.DataFrame, threshold: float) -> list[Jump]:
    """Close-to-close changes larger than ``threshold`` (either way), with their likely cause.

    Stored prices are adjusted for every recorded split, so a jump a split ratio explains is a split the
    provider did not list (or one that happened before a fetched range): the history needs a re-read.
    """
    ordered = prices.sort_values("day")
    closes = ordered["close"].to_numpy(dtype=float)
    jumps = []
    for index in range(1, len(closes)):
        change = closes[index] / closes[index - 1] - 1
        if abs(change) > threshold:
            ratio = likely_split_ratio(closes[index - 1] / closes[index])
            cause = f"split {ratio.numerator}:{ratio.denominator}?" if ratio is not None else "move"
            jumps.append(Jump(ordered["day"].iloc[index], float(change), cause))
    return jumps
