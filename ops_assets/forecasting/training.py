"""One training run over every forecast ticker: search, honest evaluation, the champion on the same window, the
final fit, and the promotion decision. Plain, no Dagster (the ``forecast_model`` asset calls :func:`train`).

Per ticker, on its feature frame:

1. the **test window** is the last ``origins`` sessions that have an actual; it is used for nothing but the
   final scores;
2. the hyperparameter **search** scores its grid by walk-forward MASE on a validation window that ends the
   session before the test window (``search.search`` cuts the data there);
3. the chosen config is **evaluated** by walk-forward on the test window (refitted every ``refit_every``
   origins, each fit seeing only data up to its origin), beside the naive forecast;
4. the current **champion** is evaluated the same way on the same window: its config refitted at the same
   origins (the naive champion needs no fit). Scoring the champion's stored weights instead would let it see
   the window it is judged on;
5. the candidate is **fitted** once more on everything, for serving.

The version's MASE is the mean of its tickers' MASE; it is promoted when it beats the champion's by the margin
(``registry.promotion_decision``).
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata

import numpy as np
import pandas as pd

from ops_assets.forecasting.bundle import ForecasterBundle
from ops_assets.forecasting.evaluation import WalkForward, evaluation_origins, walk_forward
from ops_assets.forecasting.model import ModelConfig, fit
from ops_assets.forecasting.search import search


@dataclass(frozen=True)
class TrainingPlan:
    """How much evaluation and search a training run does."""

    origins: int = 60
    """Sessions in the final test window (rolling origins)."""
    validation_origins: int = 40
    """Sessions in the search's validation window, just before the test window."""
    refit_every: int = 20
    search_budget_seconds: float = 300.0
    grid: Sequence[ModelConfig] = field(default_factory=tuple)


@dataclass
class TickerResult:
    ticker: str
    config: ModelConfig
    trials: pd.DataFrame
    candidate: WalkForward
    champion: WalkForward | None
    """``None`` when the champion is the naive forecast (its scores are ``candidate.naive_metrics``)."""
    model: object

    @property
    def champion_mase(self) -> float:
        return (self.champion.metrics if self.champion else self.candidate.naive_metrics)["mase"]

    last_close_mase: float = float("nan")
    """The last-close baseline (avg_price tomorrow = close today) on the same origins: avg_price averages the
    session's prices, so today's close already anticipates part of tomorrow's average; a model worth serving
    should beat this too (reported, not gated)."""


@dataclass
class TrainingRun:
    tickers: dict[str, TickerResult]
    data_start: date
    data_end: date
    data_hash: str
    seconds: float

    @property
    def candidate_mase(self) -> float:
        return float(np.mean([r.candidate.metrics["mase"] for r in self.tickers.values()]))

    @property
    def champion_mase(self) -> float:
        return float(np.mean([r.champion_mase for r in self.tickers.values()]))

    @property
    def last_close_mase(self) -> float:
        return float(np.mean([r.last_close_mase for r in self.tickers.values()]))

    @property
    def evaluation_window(self) -> str:
        first = min(r.candidate.start for r in self.tickers.values())
        last = max(r.candidate.end for r in self.tickers.values())
        return f"{first}..{last}"

    def bundle(self) -> ForecasterBundle:
        return ForecasterBundle(kind="lstm", forecasters={t: r.model for t, r in self.tickers.items()})

    def scores(self) -> dict[str, dict[str, float]]:
        """Per ticker: the candidate's metrics, the champion's MASE and the naive forecast's MAE, for metadata."""
        return {
            ticker: {
                **{k: round(float(v), 6) for k, v in r.candidate.metrics.items()},
                "champion_mase": round(float(r.champion_mase), 6),
                "last_close_mase": round(float(r.last_close_mase), 6),
                "config": r.config.label(),
            }
            for ticker, r in self.tickers.items()
        }


def features_hash(frames: Mapping[str, pd.DataFrame]) -> str:
    """sha256 over every ticker's training features (sorted by ticker), to tell training data apart."""
    digest = hashlib.sha256()
    for ticker in sorted(frames):
        buffer = io.BytesIO()
        frames[ticker].to_csv(buffer, index=False, float_format="%.10g")
        digest.update(ticker.encode() + b"\0" + buffer.getvalue())
    return digest.hexdigest()


def code_version() -> str:
    """The deployed image's commit (``OPS_CODE_VERSION``, set at build time) or the package version."""
    try:
        package = metadata.version("ops-platform")
    except metadata.PackageNotFoundError:
        package = "unknown"
    return os.environ.get("OPS_CODE_VERSION") or f"ops-platform {package}"


def train(
    frames: Mapping[str, pd.DataFrame],
    plan: TrainingPlan,
    *,
    champion_configs: Mapping[str, ModelConfig] | None,
) -> TrainingRun:
    """Train and evaluate every ticker (module doc). ``champion_configs``: the champion's config per ticker
    (``None`` or a missing ticker: the champion is the naive forecast there)."""
    started = time.perf_counter()
    results = {}
    for ticker, features in sorted(frames.items()):
        horizon = (plan.grid or (ModelConfig(),))[0].horizon
        test = evaluation_origins(features, origins=plan.origins, horizon=horizon)
        first_test = test["origin_day"].iloc[0]
        validation_end = max(d for d in features["day"] if d < first_test)
        found = search(
            features,
            grid=plan.grid or (ModelConfig(),),
            validation_end=validation_end,
            origins=plan.validation_origins,
            refit_every=plan.refit_every,
            time_budget_seconds=plan.search_budget_seconds,
        )
        config = found.best_config
        candidate = walk_forward(
            features,
            lambda h, t, c=config: fit(h, c, train_end=t),
            origins=plan.origins,
            refit_every=plan.refit_every,
            horizon=horizon,
        )
        champion_config = (champion_configs or {}).get(ticker)
        if champion_config is not None and champion_config.horizon != horizon:
            # A champion for another horizon is not comparable on these origins: the naive forecast stands in.
            champion_config = None
        champion = None
        if champion_config is not None:
            champion = walk_forward(
                features,
                lambda h, t, c=champion_config: fit(h, c, train_end=t),
                origins=plan.origins,
                refit_every=plan.refit_every,
                horizon=horizon,
            )
        model = fit(features, config, train_end=max(features["day"]))
        results[ticker] = TickerResult(
            ticker, config, found.trials, candidate, champion, model, last_close_mase(features, candidate)
        )
    days = [d for f in frames.values() for d in f["day"]]
    return TrainingRun(
        tickers=results,
        data_start=min(days),
        data_end=max(days),
        data_hash=features_hash(frames),
        seconds=time.perf_counter() - started,
    )


def last_close_mase(features: pd.DataFrame, evaluation: WalkForward) -> float:
    """MAE of "avg_price tomorrow = close today" over the evaluation's origins, divided by the naive MAE."""
    if "close" not in features:
        return float("nan")
    close = features.set_index("day")["close"].reindex(evaluation.table["origin_day"]).to_numpy(float)
    mae = float(np.nanmean(np.abs(evaluation.table["actual"].to_numpy(float) - close)))
    naive_mae = evaluation.naive_metrics["mae"]
    return mae / naive_mae if naive_mae > 0 else float("nan")
