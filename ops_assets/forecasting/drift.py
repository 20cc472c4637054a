"""Drift: has the data moved away from what the champion was trained on, and has it got worse? Plain, no Dagster.

- **Feature drift**: the population stability index (PSI) of each feature between the champion's training window
  and the recent window, with ten bins at the training window's deciles. Rule of thumb: < 0.1 stable, 0.1-0.25
  moderate, > 0.25 a shift worth retraining for.
- **Degradation**: the champion's realised rolling MASE (its live errors against the naive forecast's, over the
  last N sessions) against the MASE its walk-forward backtest promised, as a ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

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
