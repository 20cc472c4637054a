"""Drift: has the data moved away from what the champion was trained on, and has it got worse? Plain, no Dagster.

- **Feature drift**: the population stability index (PSI) of each feature between the champion's training window
  and the recent window, with ten bins at the training window's deciles. Rule of thumb: < 0.1 stable, 0.1-0.25
  moderate, > 0.25 a shift worth retraining for.
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


def feature_drift(
    features: pd.DataFrame, columns: Sequence[str], *, train_start: object, train_end: object, recent: int
) -> dict[str, float]:
    """PSI per feature: training window [train_start, train_end] against the last ``recent`` rows after it."""
    training = features[(features["day"] >= train_start) & (features["day"] <= train_end)]
    later = features[features["day"] > train_end].tail(recent)
    if len(later) == 0:
        later = features.tail(recent)
    return {
        column: population_stability_index(training[column].to_numpy(float), later[column].to_numpy(float))
        for column in columns
    }


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
    drifted: dict[str, list[str]] = field(default_factory=dict)
    """Ticker -> features whose PSI is above the threshold."""
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
    train_start: object,
    train_end: object,
    recent: int,
    psi_threshold: float,
    live: float,
    backtest: float,
    degradation_threshold: float,
) -> ChampionHealth:
    health = ChampionHealth(version=version, live_mase=live, backtest_mase=backtest)
    for ticker, frame in features.items():
        psi = feature_drift(frame, columns, train_start=train_start, train_end=train_end, recent=recent)
        health.psi[ticker] = {k: round(v, 4) for k, v in psi.items()}
        drifted = [k for k, v in psi.items() if np.isfinite(v) and v > psi_threshold]
        if drifted:
            health.drifted[ticker] = drifted
    health.degradation = degradation_ratio(live, backtest)
    health.degraded = bool(np.isfinite(health.degradation) and health.degradation > degradation_threshold)
    return health
