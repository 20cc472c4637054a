"""The champion's health from what is stored: its card, the features, the latest realised performance. Plain,
no Dagster; the drift checks and the retrain sensor both ask :func:`champion_health`."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from ops_assets.forecasting.drift import ChampionHealth, assess
from ops_assets.forecasting.performance import live_mase, rolling_mase
from ops_assets.forecasting.registry import ModelRegistry
from ops_assets.forecasting.storage import frame_from_parquet, load_features

RECENT_SESSIONS = 60
"""The recent window compared with the training window, and the live MASE's window."""


class Store(Protocol):
    def get_bytes(self, key: str) -> bytes: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def list(self, prefix: str) -> Any: ...


def latest_performance(store: Store) -> tuple[date | None, Any]:
    """The newest stored performance table (realised errors) and its day."""
    found = sorted(info.key for info in store.list("forecasting/performance/") if info.key.endswith(".parquet"))
    if not found:
        return None, None
    day = date.fromisoformat(found[-1].rsplit("/", 1)[-1].removesuffix(".parquet"))
    return day, frame_from_parquet(store.get_bytes(found[-1]))


def champion_health(
    store: Store, tickers: list[str], *, psi_threshold: float, degradation_threshold: float
) -> ChampionHealth | None:
    """``None`` while the naive forecast is the champion (nothing was trained that could drift)."""
    card = ModelRegistry(store).champion_card()
    if card is None:
        return None
    version = card.version
    features = load_features(store, tickers)
    columns = [c for c in next(iter(card.config.values()), {}).get("features", []) if c != "avg_price"]
    windows = {
        ticker: (date.fromisoformat(card.training_windows.get(ticker, [card.data_start])[0]),
                 date.fromisoformat(card.training_windows.get(ticker, [card.data_start, card.data_end])[-1]))
        for ticker in card.tickers
    }  # fmt: skip
    _, scored = latest_performance(store)
    live = (
        live_mase(rolling_mase(scored), version, RECENT_SESSIONS)
        if scored is not None and len(scored)
        else float("nan")
    )
    return assess(
        version,
        features,
        columns,
        windows=windows,
        recent=RECENT_SESSIONS,
        psi_threshold=psi_threshold,
        live=live,
        backtest=float(card.metrics.get("mase", float("nan"))),
        degradation_threshold=degradation_threshold,
    )
