"""Drift: has the data moved away from what the champion was trained on, and has it got worse? Plain, no Dagster.

- **Feature drift**: the population stability index (PSI) of each feature between the champion's training window
  and the last 60 sessions since, with ten bins at the training window's deciles. The textbook rule (> 0.25 is a
  shift) fires nearly always on daily market features, which are autocorrelated: on the sample, 60-session
  windows inside the training data itself exceed it 40-100 % of the time. So each feature's threshold is
  calibrated on its own history: the 99th percentile of the PSIs of the training window's 60-session blocks (at
  least the configured floor), and drift is a recent window beyond that.
- **Degradation**: the champion's realised rolling MASE (its live errors against the naive forecast's, over the
  last N sessions) against the MASE its walk-forward backtest promised, as a ratio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

BINS = 10
EPSILON = 1e-4
"""Floor of a bin's share, so an empty bin does not make the index infinite."""


def population_stability_index(expected: np.ndarray, actual: np.ndarray, bins: int = BINS) -> float:
    """PSI of ``actual`` against ``expected`` (NaN ignored); bins at ``expected``'s quantiles."""
    expected = expected[np.isfinite(expected)]
    actual = actual[np.isfinite(actual)]
    if len(expected) < bins or len(actual) == 0:
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    expected_share = np.histogram(expected, edges)[0] / len(expected)
    actual_share = np.histogram(actual, edges)[0] / len(actual)
    expected_share = np.clip(expected_share, EPSILON, None)
    actual_share = np.clip(actual_share, EPSILON, None)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


@dataclass(frozen=True)
class FeatureDrift:
    psi: float
    """The recent window's PSI against the training window."""
    threshold: float
    """What counts as drift for this feature: the configured floor, or the 99th percentile of the PSIs of the
    training window's own blocks of the same length, whichever is higher."""

    @property
    def drifted(self) -> bool:
        return bool(np.isfinite(self.psi) and self.psi > self.threshold)


def block_threshold(training: np.ndarray, length: int, floor: float, quantile: float = 0.99) -> float:
    """The PSI a window of ``length`` consecutive sessions *inside* the training window reaches anyway.

    Daily features are autocorrelated (a volatility regime lasts weeks), so even windows the model was trained on
    score PSIs far above textbook thresholds against the whole window; drift is a recent window that is unusual
    *compared with those*.
    """
    blocks = [training[i : i + length] for i in range(0, len(training) - length + 1, length)]
    scores = [population_stability_index(training, block) for block in blocks]
    scores = [s for s in scores if np.isfinite(s)]
    return max(floor, float(np.quantile(scores, quantile))) if len(scores) >= 5 else float("inf")


def feature_drift(
    features: pd.DataFrame,
    columns: Sequence[str],
    *,
    train_start: object,
    train_end: object,
    recent: int,
    floor: float,
) -> dict[str, FeatureDrift] | None:
    """Per feature: the last ``recent`` sessions after ``train_end`` against [train_start, train_end].

    ``None`` until ``recent`` sessions have passed since the training end (fewer say nothing reliable).
    """
    training = features[(features["day"] >= train_start) & (features["day"] <= train_end)]
    later = features[features["day"] > train_end]
    if len(later) < recent:
        return None
    later = later.tail(recent)
    found = {}
    for column in columns:
        values = training[column].to_numpy(float)
        values = values[np.isfinite(values)]
        found[column] = FeatureDrift(
            population_stability_index(values, later[column].to_numpy(float)),
            block_threshold(values, recent, floor),
        )
    return found


def degradation_ratio(live_mase: float, backtest_mase: float) -> float:
    """How much worse the live errors are than the backtest promised (1.0 = as promised, 1.5 = 50 % worse)."""
    if not np.isfinite(live_mase) or not np.isfinite(backtest_mase) or backtest_mase <= 0:
        return float("nan")
    return live_mase / backtest_mase


@dataclass
class ChampionHealth:
    """Whether the champion still fits the data: feature drift per ticker and live vs backtest MASE."""

    version: int
    psi: dict[str, dict[str, float]] = field(default_factory=dict)
    """Ticker -> feature -> PSI (training window vs the recent window)."""
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    drifted: dict[str, list[str]] = field(default_factory=dict)
    """Ticker -> features whose PSI is above their threshold."""
    too_recent: list[str] = field(default_factory=list)
    """Tickers with fewer recent sessions since training than the window needs (no judgment yet)."""
    live_mase: float = float("nan")
    backtest_mase: float = float("nan")
    degradation: float = float("nan")
    """``live_mase / backtest_mase``."""
    degraded: bool = False

    def reasons(self) -> list[str]:
        """What would justify retraining, in words (empty: nothing)."""
        found = [
            f"{ticker}: feature drift in {', '.join(features)}" for ticker, features in sorted(self.drifted.items())
        ]
        if self.degraded:
            found.append(
                f"live 60-session MASE {self.live_mase:.3f} is {self.degradation:.2f}x the backtest's "
                f"{self.backtest_mase:.3f}"
            )
        return found


def assess(
    version: int,
    features: Mapping[str, pd.DataFrame],
    columns: Sequence[str],
    *,
    windows: Mapping[str, tuple[object, object]],
    recent: int,
    psi_threshold: float,
    live: float,
    backtest: float,
    degradation_threshold: float,
) -> ChampionHealth:
    """``windows``: each ticker's training window (first and last session the model was fitted on)."""
    health = ChampionHealth(version=version, live_mase=live, backtest_mase=backtest)
    for ticker, frame in features.items():
        if ticker not in windows:
            continue
        start, end = windows[ticker]
        drift = feature_drift(frame, columns, train_start=start, train_end=end, recent=recent, floor=psi_threshold)
        if drift is None:
            health.too_recent.append(ticker)
            continue
        health.psi[ticker] = {k: round(v.psi, 4) for k, v in drift.items()}
        health.thresholds[ticker] = {k: round(v.threshold, 4) for k, v in drift.items()}
        drifted = [k for k, v in drift.items() if v.drifted]
        if drifted:
            health.drifted[ticker] = drifted
    health.degradation = degradation_ratio(live, backtest)
    health.degraded = bool(np.isfinite(health.degradation) and health.degradation > degradation_threshold)
    return health
