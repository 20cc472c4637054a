"""Walk-forward (rolling-origin) evaluation of a forecaster against the naive forecast. Plain, no Dagster.

How :func:`walk_forward` evaluates. The evaluation window is the last ``origins`` sessions ``t`` of the feature
frame whose actual ``avg_price[t+h]`` is in the frame. Walking forward through them, at origin ``t`` the
forecaster sees only the rows with ``day <= t``: it is refitted on them every ``refit_every`` origins (the first
origin always fits), and between refits the last fitted model is reused, still given only the rows up to ``t``
to forecast from. So every forecast is one that could have been made on the evening of ``t``. The naive
forecast (``avg_price[t+h] = avg_price[t]``) is scored on the same origins.

Metrics (:func:`forecast_metrics`), over the origins with a forecast:

- ``mae``, ``rmse``: in price units; ``mape``: mean of ``|actual - forecast| / |actual|``, in percent;
- ``directional_accuracy``: share of origins where the forecast moves the same way as the price did,
  ``sign(forecast - today) == sign(actual - today)``; a forecast of no move, or no move at all, counts as a miss
  (so the naive forecast scores 0 by construction: it never calls a direction);
- ``mase``: ``MAE(model) / MAE(naive)`` over the **same origins**, i.e. scaled by the naive forecast's error on
  the evaluation window itself (not the in-sample naive error of Hyndman's original definition). Below 1 the
  model beat "tomorrow = today" on this window; 1.0 for the naive forecast itself. Stock prices are close to a
  random walk: expect values near 1, and read small differences with the window's length in mind.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ops_assets.forecasting.model import PRICE_COLUMN, Forecaster, NaiveForecaster, prepare, sessions_after

TABLE_COLUMNS = ["origin_day", "target_day", "actual", "forecast", "naive", "today"]
PREDICT_TAIL_SLACK = 32
"""Rows beyond a forecaster's window handed to ``predict`` at each origin (a few incomplete rows are dropped
there); when that is not enough for a forecast, the whole history up to the origin is passed instead."""


def forecast_metrics(
    actual: np.ndarray | pd.Series,
    forecast: np.ndarray | pd.Series,
    naive: np.ndarray | pd.Series,
    today: np.ndarray | pd.Series,
) -> dict[str, float]:
    """MAE, RMSE, MAPE (%), directional accuracy and MASE (see the module doc) over origins with a finite forecast.

    ``actual`` is avg_price at the target session, ``forecast`` the model's, ``naive`` the naive forecast's and
    ``today`` avg_price at the origin (for a horizon of one, ``naive == today``). ``n`` is the number of origins
    scored; with none, every metric is NaN. ``naive_mae`` is the denominator of ``mase`` (NaN MASE when it is 0).
    """
    actual, forecast, naive, today = (np.asarray(v, dtype="float64") for v in (actual, forecast, naive, today))
    if not (actual.shape == forecast.shape == naive.shape == today.shape):
        raise ValueError("actual, forecast, naive and today must have the same length")
    scored = np.isfinite(actual) & np.isfinite(forecast) & np.isfinite(naive) & np.isfinite(today)
    actual, forecast, naive, today = actual[scored], forecast[scored], naive[scored], today[scored]
    n = len(actual)
    if n == 0:
        nan = float("nan")
        return {
            "n": 0,
            "mae": nan,
            "rmse": nan,
            "mape": nan,
            "directional_accuracy": nan,
            "mase": nan,
            "naive_mae": nan,
        }
    error = actual - forecast
    mae = float(np.mean(np.abs(error)))
    naive_mae = float(np.mean(np.abs(actual - naive)))
    predicted_move = np.sign(forecast - today)
    actual_move = np.sign(actual - today)
    hits = (predicted_move == actual_move) & (predicted_move != 0)
    return {
        "n": n,
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(np.mean(np.abs(error) / np.abs(actual)) * 100.0),
        "directional_accuracy": float(np.mean(hits)),
        "mase": mae / naive_mae if naive_mae > 0 else float("nan"),
        "naive_mae": naive_mae,
    }


@dataclass
class WalkForward:
    """One walk-forward evaluation: the per-origin table and its metrics."""

    table: pd.DataFrame
    """One row per origin, oldest first: ``origin_day``, ``target_day``, ``actual`` (avg_price at the target),
    ``forecast`` (the model's), ``naive`` (the naive forecast), ``today`` (avg_price at the origin)."""
    metrics: dict[str, float]
    """The model's :func:`forecast_metrics`."""
    naive_metrics: dict[str, float]
    """The naive forecast's, on the same origins (its ``mase`` is 1.0)."""
    horizon: int
    fits: int
    """How many times the forecaster was fitted."""
    seconds: float
    """Wall time of the whole evaluation (fits and forecasts)."""
    fit_days: list[date] = field(default_factory=list)
    """The origins the forecaster was (re)fitted at."""

    @property
    def start(self) -> date:
        return self.table["origin_day"].iloc[0]

    @property
    def end(self) -> date:
        return self.table["origin_day"].iloc[-1]

    def summary(self) -> dict[str, Any]:
        """Metrics and window as plain values (for run metadata and the registry)."""
        return {
            "origins": len(self.table),
            "first_origin": self.start.isoformat(),
            "last_origin": self.end.isoformat(),
            "horizon": self.horizon,
            "fits": self.fits,
            "seconds": round(self.seconds, 3),
            **self.metrics,
        }


def evaluation_origins(features: pd.DataFrame, *, origins: int, horizon: int = 1) -> pd.DataFrame:
    """The last ``origins`` sessions with an actual ``horizon`` sessions later: ``origin_day``, ``target_day``,
    ``today``, ``actual`` (oldest first). Raises when the frame has fewer."""
    if origins < 1:
        raise ValueError(f"origins must be at least 1, got {origins}")
    frame = prepare(features).dropna(subset=[PRICE_COLUMN])
    price = frame.set_index("day")[PRICE_COLUMN]
    candidates = pd.DataFrame({"origin_day": list(frame["day"]), "today": frame[PRICE_COLUMN].to_numpy()})
    candidates["target_day"] = sessions_after(candidates["origin_day"], horizon) if len(candidates) else []
    candidates["actual"] = price.reindex(candidates["target_day"]).to_numpy()
    available = candidates.dropna(subset=["actual"])
    if len(available) < origins:
        raise ValueError(
            f"only {len(available)} sessions have an actual {horizon} session(s) later; {origins} origins asked"
        )
    return available.iloc[-origins:][["origin_day", "target_day", "today", "actual"]].reset_index(drop=True)


def walk_forward(
    features: pd.DataFrame,
    make_forecaster: Callable[[pd.DataFrame, date], Forecaster],
    *,
    origins: int,
    refit_every: int,
    horizon: int = 1,
) -> WalkForward:
    """Rolling-origin evaluation over the last ``origins`` sessions (see the module doc).

    ``make_forecaster(history, t)`` fits a forecaster on ``history`` (the rows with ``day <= t``) and ``t``;
    e.g. ``lambda history, t: fit(history, config, train_end=t)``. Its ``horizon`` must equal ``horizon``.
    An origin the forecaster cannot forecast (no full window of complete rows) is kept in the table with a NaN
    forecast and left out of the metrics (the ``n`` metric says how many were scored).
    """
    if refit_every < 1:
        raise ValueError(f"refit_every must be at least 1, got {refit_every}")
    started = time.perf_counter()
    frame = prepare(features)
    window = evaluation_origins(frame, origins=origins, horizon=horizon)
    forecasts: list[float] = []
    fit_days: list[date] = []
    forecaster: Forecaster | None = None
    for index, origin in enumerate(window["origin_day"]):
        history = frame[frame["day"] <= origin]
        if index % refit_every == 0:
            forecaster = make_forecaster(history, origin)
            fit_days.append(origin)
            if forecaster.horizon != horizon:
                raise ValueError(f"the forecaster's horizon is {forecaster.horizon}, the evaluation's {horizon}")
        assert forecaster is not None
        forecasts.append(_forecast_at(forecaster, history, origin))
    naive = NaiveForecaster(horizon).predict(frame).set_index("origin_day")["forecast"]
    table = window.assign(forecast=forecasts, naive=naive.reindex(window["origin_day"]).to_numpy())[TABLE_COLUMNS]
    metrics = forecast_metrics(table["actual"], table["forecast"], table["naive"], table["today"])
    naive_metrics = forecast_metrics(table["actual"], table["naive"], table["naive"], table["today"])
    return WalkForward(
        table=table,
        metrics=metrics,
        naive_metrics=naive_metrics,
        horizon=horizon,
        fits=len(fit_days),
        seconds=time.perf_counter() - started,
        fit_days=fit_days,
    )


def _forecast_at(forecaster: Forecaster, history: pd.DataFrame, origin: date) -> float:
    """The forecaster's forecast from ``origin``, given the history up to it (a short tail first: cheaper)."""
    tail = history.iloc[-(forecaster.history_rows + PREDICT_TAIL_SLACK) :]
    for visible in (tail, history):
        predictions = forecaster.predict(visible)
        hit = predictions.loc[predictions["origin_day"] == origin, "forecast"]
        if len(hit):
            return float(hit.iloc[-1])
        if len(tail) == len(history):
            break
    return math.nan
