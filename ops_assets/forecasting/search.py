"""A bounded hyperparameter search: a small grid, scored by walk-forward MASE, inside a time budget. Plain, no Dagster.

The search never looks at the final test window. Every trial is a :func:`~ops_assets.forecasting.evaluation.
walk_forward` over a **validation window that ends at** ``validation_end``: the frame is cut at
``validation_end`` before anything else, so every fit, every forecast and every actual used is on or before it,
and the sessions after it stay unseen for the final evaluation of the chosen config.

The budget is checked before each trial: once ``time_budget_seconds`` have passed, the remaining configs are
recorded as ``"skipped: budget"`` (a trial already started runs to its end, so the search can overrun by one
trial). The first config always runs, so there is always a best config. Configs are tried in grid order: put
the one you would pick without a search first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from ops_assets.forecasting.evaluation import WalkForward, walk_forward
from ops_assets.forecasting.model import ModelConfig, fit, prepare

DEFAULT_GRID: tuple[ModelConfig, ...] = (
    ModelConfig(),
    ModelConfig(window=10),
    ModelConfig(window=40, hidden_size=16),
    ModelConfig(hidden_size=16, num_layers=2, learning_rate=2e-3),
)
"""Four small configs (the default first): short and long windows, a smaller and a two-layer network."""

TRIAL_COLUMNS = [
    "trial",
    "config",
    "label",
    "mase",
    "mae",
    "directional_accuracy",
    "fits",
    "seconds",
    "status",
]
DONE = "done"
SKIPPED = "skipped: budget"


@dataclass
class SearchResult:
    """What the search found, and what it tried."""

    best_config: ModelConfig
    """The config with the lowest validation MASE among the trials run (the first one on ties)."""
    best: WalkForward
    """The best config's validation walk-forward."""
    trials: pd.DataFrame
    """One row per grid config, in grid order: ``trial``, ``config`` (the :class:`ModelConfig`), ``label``,
    ``mase``, ``mae``, ``directional_accuracy``, ``fits``, ``seconds``, ``status`` (``"done"`` or
    ``"skipped: budget"``; a skipped trial has NaN metrics)."""
    validation_end: date
    seconds: float

    @property
    def best_mase(self) -> float:
        return float(self.best.metrics["mase"])


def search(
    features: pd.DataFrame,
    *,
    grid: Sequence[ModelConfig] = DEFAULT_GRID,
    validation_end: date,
    origins: int,
    refit_every: int,
    time_budget_seconds: float,
) -> SearchResult:
    """Walk-forward MASE of each config over the ``origins`` sessions up to ``validation_end`` (module doc)."""
    if not grid:
        raise ValueError("the grid is empty")
    started = time.perf_counter()
    frame = prepare(features)
    frame = frame[frame["day"] <= validation_end].reset_index(drop=True)
    rows: list[dict[str, object]] = []
    results: list[WalkForward | None] = []
    for trial, config in enumerate(grid):
        row: dict[str, object] = {"trial": trial, "config": config, "label": config.label()}
        if trial > 0 and time.perf_counter() - started >= time_budget_seconds:
            skipped = {"mase": math.nan, "mae": math.nan, "directional_accuracy": math.nan, "fits": 0, "seconds": 0.0}
            rows.append({**row, **skipped, "status": SKIPPED})
            results.append(None)
            continue
        result = walk_forward(
            frame,
            lambda history, train_end, config=config: fit(history, config, train_end=train_end),
            origins=origins,
            refit_every=refit_every,
            horizon=config.horizon,
        )
        rows.append(
            {
                **row,
                "mase": result.metrics["mase"],
                "mae": result.metrics["mae"],
                "directional_accuracy": result.metrics["directional_accuracy"],
                "fits": result.fits,
                "seconds": result.seconds,
                "status": DONE,
            }
        )
        results.append(result)
    trials = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    best_index = _best(trials)
    best = results[best_index]
    assert best is not None
    return SearchResult(
        best_config=grid[best_index],
        best=best,
        trials=trials,
        validation_end=validation_end,
        seconds=time.perf_counter() - started,
    )


def _best(trials: pd.DataFrame) -> int:
    """The trial with the lowest finite MASE among those run; the first run trial when none is finite."""
    done = trials[trials["status"] == DONE]
    finite = done[done["mase"].map(lambda v: math.isfinite(float(v)))]
    if finite.empty:
        return int(done["trial"].iloc[0])
    return int(finite.loc[finite["mase"].astype(float).idxmin(), "trial"])
