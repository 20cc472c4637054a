"""How the served forecasts did once the actual prices arrived. Plain, no Dagster.

A prediction made after the close of ``origin_day`` for ``target_day`` is scored when ``target_day``'s prices are
stored: its error against the actual avg_price, and the naive forecast's (avg_price at ``origin_day``) on the
same prediction. Per model version, the rolling MASE over its last 20 and 60 scored predictions is its MAE over
the naive forecast's MAE on those same predictions (1.0 = no better than tomorrow = today).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

PREDICTION_COLUMNS = ["ticker", "origin_day", "target_day", "forecast", "model_version", "model_kind", "origin_price"]
ROLLING_WINDOWS = (20, 60)


def realised_errors(predictions: pd.DataFrame, features: Mapping[str, pd.DataFrame], *, as_of: date) -> pd.DataFrame:
    """The predictions whose target session is on or before ``as_of`` and has a price, with ``actual``, ``today``
    (the naive forecast) and both absolute errors."""
    rows = []
    for ticker, group in predictions[predictions["target_day"] <= as_of].groupby("ticker"):
        if ticker not in features:
            continue
        price = features[ticker].set_index("day")["avg_price"]
        scored = group.assign(
            actual=price.reindex(group["target_day"]).to_numpy(), today=price.reindex(group["origin_day"]).to_numpy()
        )
        if "origin_price" in scored:
            # Stored prices are re-adjusted when a split becomes known; a forecast keeps the units of the day it
            # was made. Rescale it by how the origin's price changed since (1.0 without a split in between).
            factor = (scored["today"] / scored["origin_price"]).where(scored["origin_price"] > 0, 1.0).fillna(1.0)
            scored["forecast"] = scored["forecast"] * factor
        rows.append(scored.dropna(subset=["actual", "today"]))
    if not rows:
        return pd.DataFrame(columns=[*PREDICTION_COLUMNS, "actual", "today", "error", "naive_error"])
    scored = pd.concat(rows, ignore_index=True)
    scored["error"] = (scored["actual"] - scored["forecast"]).abs()
    scored["naive_error"] = (scored["actual"] - scored["today"]).abs()
    return scored.sort_values(["target_day", "ticker"]).reset_index(drop=True)


def rolling_mase(scored: pd.DataFrame, windows: Sequence[int] = ROLLING_WINDOWS) -> pd.DataFrame:
    """Per model version: predictions scored, last target day, MAE and MASE over its last N predictions."""
    out = []
    # MASE per ticker, then the mean over tickers: the same aggregation as the backtest's (price levels differ).
    for version, group in scored.sort_values("target_day").groupby("model_version"):
        row: dict[str, object] = {
            "model_version": int(version),
            "model_kind": group["model_kind"].iloc[-1],
            "scored": len(group),
            "last_target_day": group["target_day"].iloc[-1],
        }
        for n in windows:
            maes, mases, complete = [], [], True
            for _, per_ticker in group.groupby("ticker"):
                tail = per_ticker.tail(n)
                naive_mae = float(tail["naive_error"].mean())
                maes.append(float(tail["error"].mean()))
                mases.append(maes[-1] / naive_mae if naive_mae > 0 else float("nan"))
                complete &= len(tail) >= n
            row[f"mae_{n}"] = float(np.mean(maes))
            row[f"mase_{n}"] = float(np.mean(mases))
            row[f"complete_{n}"] = complete
        out.append(row)
    return pd.DataFrame(out)


def live_mase(table: pd.DataFrame, version: int, window: int = 60) -> float:
    """The rolling MASE of ``version`` over ``window`` predictions, NaN until it has that many."""
    row = table[table["model_version"] == version]
    if row.empty or not bool(row[f"complete_{window}"].iloc[0]):
        return float("nan")
    return float(row[f"mase_{window}"].iloc[0])


def nan_to_none(value: float) -> float | None:
    return None if not np.isfinite(value) else value
