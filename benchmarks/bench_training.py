"""Training and prediction cost of the forecasting LSTM on this machine, next to a plain least-squares reference.

Data: the offline sample's daily bars for one ticker (default AMZN), the last 20 years up to the sample's last
session, split-adjusted as the stored history is, turned into :func:`price_features`. Measured, wall clock:

- fitting the default :class:`ModelConfig` once (``train_end`` = the last session). The default uses the most
  recent ``max_train_rows`` (2520, ~10 years) of the 20; a second line fits on all 20 years
  (``max_train_rows`` = every row);
- the same default fit with torch on 1 thread and on 2 (``model.TORCH_THREADS``);
- a walk-forward over the last 60 origins refitting every 20 (3 fits);
- batch prediction throughput: ``predict`` over the whole 20-year frame (one forecast per origin), repeated;

each for the LSTM and for the reference: a numpy least-squares linear model (``numpy.linalg.lstsq``) on the same
inputs (the window of the same features, avg_price window-relative, standardised on the training rows) and the
same target (``log(avg_price[t+h] / avg_price[t])``), i.e. a linear autoregression. It also prints both models'
walk-forward MASE against the naive forecast, as measured on this window. It prints figures, not verdicts.

    .venv/bin/python benchmarks/bench_training.py            # ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_training.py --ticker MSFT --origins 60 --refit-every 20
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops_assets.forecasting import model
from ops_assets.forecasting.evaluation import walk_forward
from ops_assets.forecasting.features import FEATURE_COLUMNS, price_features
from ops_assets.forecasting.model import ModelConfig, fit, prepare, sessions_after
from ops_assets.forecasting.prices import Split, adjust_for_split, bars_frame
from resources.sample_sources.prices import SAMPLE_PRICES_END, sample_daily_history


def sample_features(ticker: str, years: int) -> pd.DataFrame:
    """The sample's last ``years`` years of ``ticker``, split-adjusted, as the feature frame."""
    start = date(SAMPLE_PRICES_END.year - years, SAMPLE_PRICES_END.month, SAMPLE_PRICES_END.day)
    history = sample_daily_history(ticker, start, SAMPLE_PRICES_END)
    prices = bars_frame(history.bars)
    for day, ratio in history.splits:
        prices = adjust_for_split(prices, Split(day, ratio))
    return price_features(prices)


class LeastSquaresForecaster:
    """Reference: a linear model fitted by least squares on the LSTM's inputs and target (a linear AR)."""

    name: ClassVar[str] = "least_squares"

    def __init__(self, window: int, horizon: int, mean: np.ndarray, std: np.ndarray, coef: np.ndarray) -> None:
        self.window = window
        self.horizon = horizon
        self.mean = mean
        self.std = std
        self.coef = coef

    @property
    def history_rows(self) -> int:
        return self.window

    @staticmethod
    def inputs(frame: pd.DataFrame, window: int) -> tuple[list[date], np.ndarray, np.ndarray]:
        """Origins, avg_price at each, and the flattened windows (avg_price as log price relative to the origin)."""
        complete = frame.dropna(subset=FEATURE_COLUMNS).reset_index(drop=True)
        if len(complete) < window:
            return [], np.empty(0), np.empty((0, window * len(FEATURE_COLUMNS)))
        matrix = complete[FEATURE_COLUMNS].to_numpy(dtype="float64")
        windows = np.lib.stride_tricks.sliding_window_view(matrix, window, axis=0).transpose(0, 2, 1).copy()
        log_price = np.log(windows[:, :, 0])
        windows[:, :, 0] = log_price - log_price[:, -1:]
        price = complete["avg_price"].to_numpy(dtype="float64")[window - 1 :]
        return list(complete["day"].iloc[window - 1 :]), price, windows.reshape(len(windows), -1)

    @classmethod
    def fit(cls, features: pd.DataFrame, config: ModelConfig, train_end: date) -> LeastSquaresForecaster:
        frame = prepare(features)
        frame = frame[frame["day"] <= train_end]
        rows = frame.dropna(subset=FEATURE_COLUMNS).iloc[-config.max_train_rows :]
        days, price, x = cls.inputs(rows, config.window)
        known = frame.set_index("day")["avg_price"]
        target_days = sessions_after(days, config.horizon)
        target_price = known.reindex(target_days).to_numpy(dtype="float64")
        ok = np.array([d <= train_end for d in target_days]) & np.isfinite(target_price)
        mean, std = x.mean(axis=0), x.std(axis=0)
        std[std == 0] = 1.0
        design = np.column_stack([np.ones(int(ok.sum())), (x[ok] - mean) / std])
        coef, *_ = np.linalg.lstsq(design, np.log(target_price[ok] / price[ok]), rcond=None)
        return cls(config.window, config.horizon, mean, std, coef)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        days, price, x = self.inputs(prepare(features), self.window)
        log_ratio = np.column_stack([np.ones(len(x)), (x - self.mean) / self.std]) @ self.coef
        return pd.DataFrame(
            {
                "origin_day": days,
                "target_day": sessions_after(days, self.horizon),
                "forecast": price * np.exp(log_ratio),
            }
        )

    def to_bytes(self) -> bytes:
        return self.coef.tobytes()


def timed(action: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def row(label: str, lstm: float, reference: float, unit: str) -> str:
    ratio = lstm / reference if reference > 0 else float("nan")
    return f"  {label:<52} {lstm:>12.3f} {reference:>12.4f}   {ratio:>8.1f}x  {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticker", default="AMZN")
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--origins", type=int, default=60)
    parser.add_argument("--refit-every", type=int, default=20)
    parser.add_argument("--predict-repeat", type=int, default=5)
    args = parser.parse_args()

    features = sample_features(args.ticker, args.years)
    last = features["day"].iloc[-1]
    config = ModelConfig()
    all_rows = ModelConfig(max_train_rows=len(features))
    print(
        f"machine: {os.cpu_count()} CPUs visible, torch {torch.__version__}, "
        f"fit/predict on model.TORCH_THREADS={model.TORCH_THREADS} threads, "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    print(
        f"data: sample {args.ticker}, {features['day'].iloc[0]} .. {last}, {len(features)} sessions, "
        f"{len(features.dropna())} complete feature rows"
    )
    print(f"config: {config.label()}, batch {config.batch_size}, max_train_rows {config.max_train_rows}")
    print()

    # Warm-up (torch's first calls allocate and initialise), then best of two for every LSTM fit.
    fit(features, ModelConfig(epochs=1, max_train_rows=200), train_end=last)
    fit_default, lstm = timed(lambda: fit(features, config, train_end=last), repeat=2)
    ref_default, reference = timed(lambda: LeastSquaresForecaster.fit(features, config, last), repeat=3)
    fit_all, lstm_all = timed(lambda: fit(features, all_rows, train_end=last), repeat=2)
    ref_all, _ = timed(lambda: LeastSquaresForecaster.fit(features, all_rows, last), repeat=3)

    threads: dict[int, list[float]] = {1: [], 2: []}
    saved = model.TORCH_THREADS
    try:
        for _ in range(2):  # interleaved, so a burst of load elsewhere on the machine hits both
            for count in (1, 2):
                model.TORCH_THREADS = count
                threads[count].append(timed(lambda: fit(features, config, train_end=last))[0])
    finally:
        model.TORCH_THREADS = saved

    def lstm_maker(history: pd.DataFrame, end: date) -> model.Forecaster:
        return fit(history, config, train_end=end)

    def reference_maker(history: pd.DataFrame, end: date) -> model.Forecaster:
        return LeastSquaresForecaster.fit(history, config, end)

    wf_kwargs = {"origins": args.origins, "refit_every": args.refit_every, "horizon": config.horizon}
    wf_lstm = walk_forward(features, lstm_maker, **wf_kwargs)
    wf_reference = walk_forward(features, reference_maker, **wf_kwargs)

    predict_lstm, forecasts = timed(lambda: lstm.predict(features), repeat=args.predict_repeat)
    predict_reference, reference_forecasts = timed(lambda: reference.predict(features), repeat=args.predict_repeat)
    n_lstm, n_reference = len(forecasts), len(reference_forecasts)

    print(f"{'':<54} {'LSTM':>12} {'least sq.':>12}   {'LSTM/ref':>9}")
    print(row(f"fit, default config ({lstm.training_samples} samples)", fit_default, ref_default, "s"))
    print(row(f"fit, all {args.years} years ({lstm_all.training_samples} samples)", fit_all, ref_all, "s"))
    print(
        row(
            f"walk-forward, {args.origins} origins, refit every {args.refit_every} ({wf_lstm.fits} fits)",
            wf_lstm.seconds,
            wf_reference.seconds,
            "s",
        )
    )
    print(
        row(
            f"batch predict throughput ({n_lstm} forecasts)",
            n_lstm / predict_lstm,
            n_reference / predict_reference,
            "forecasts/s",
        )
    )
    print()
    print(
        f"  LSTM default fit, torch on 1 thread: {min(threads[1]):.3f} s, on 2 threads: {min(threads[2]):.3f} s "
        f"(best of 2 each; runs {' '.join(f'{t:.2f}' for t in threads[1])} / "
        f"{' '.join(f'{t:.2f}' for t in threads[2])} s)"
    )
    print(f"  load average at end {os.getloadavg()[0]:.2f} (other work on the machine slows every figure above)")
    lstm_m, reference_m = wf_lstm.metrics, wf_reference.metrics
    print(
        f"  walk-forward {wf_lstm.start} .. {wf_lstm.end} ({args.origins} origins, one window): MASE vs naive "
        f"LSTM {lstm_m['mase']:.4f}, least sq. {reference_m['mase']:.4f}; directional accuracy "
        f"{lstm_m['directional_accuracy']:.3f} / {reference_m['directional_accuracy']:.3f}"
    )


if __name__ == "__main__":
    main()
