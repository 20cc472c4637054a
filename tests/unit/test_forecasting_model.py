"""Forecasting's model, walk-forward evaluation and search (plain modules): determinism, no look-ahead, the scaler
fitted on training rows only, serialisation, the naive forecast, the metrics on a hand-computed example, the
search's budget and validation cut-off, and an honest score on a pure random walk.

Small models and short series keep the whole file to a few seconds on 2 cores.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
import pytest
import torch

from ops_assets.forecasting import search as search_module
from ops_assets.forecasting import trading_calendar as tc
from ops_assets.forecasting.evaluation import evaluation_origins, forecast_metrics, walk_forward
from ops_assets.forecasting.features import FEATURE_COLUMNS, price_features
from ops_assets.forecasting.model import (
    Forecaster,
    LstmForecaster,
    ModelConfig,
    NaiveForecaster,
    fit,
    fit_scaler,
    load_forecaster,
)
from ops_assets.forecasting.prices import Split, adjust_for_split, bars_frame
from ops_assets.forecasting.search import DEFAULT_GRID, search
from resources.sample_sources.prices import sample_daily_history

SMALL = ModelConfig(window=5, hidden_size=8, epochs=3, batch_size=32, max_train_rows=250)
TRAIN_END = date(2016, 6, 30)


@cache
def _sample_prices() -> pd.DataFrame:
    history = sample_daily_history("AMZN", date(2015, 1, 2), date(2016, 12, 30))
    prices = bars_frame(history.bars)
    for day, ratio in history.splits:
        prices = adjust_for_split(prices, Split(day, ratio))
    return prices


def sample_prices() -> pd.DataFrame:
    return _sample_prices().copy()


def sample_features() -> pd.DataFrame:
    return price_features(sample_prices())


def changed_after(prices: pd.DataFrame, day: date) -> pd.DataFrame:
    """The same prices up to ``day``; after it, different prices and volumes (what the future might have been)."""
    out = prices.copy()
    later = out["day"] > day
    factor = np.linspace(1.2, 0.7, int(later.sum()))
    out.loc[later, ["open", "high", "low", "close"]] = out.loc[later, ["open", "high", "low", "close"]].mul(
        factor, axis=0
    )
    out.loc[later, "volume"] = out.loc[later, "volume"] * 3.0
    return out


def random_walk_features(sessions: int = 420, seed: int = 3) -> pd.DataFrame:
    """Features of a pure random walk (open = high = low = close): the naive forecast is optimal for it."""
    days = tc.sessions(date(2010, 1, 4), date(2012, 12, 31))[:sessions]
    rng = np.random.default_rng(seed)
    price = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, len(days))))
    volume = rng.integers(1_000_000, 2_000_000, len(days)).astype(float)
    prices = pd.DataFrame({"day": days, "open": price, "high": price, "low": price, "close": price, "volume": volume})
    return price_features(prices)


# ------------------------------------------------------------------------------------------------- config


def test_config_round_trips_and_rejects_nonsense() -> None:
    config = ModelConfig(window=12, features=("avg_price", "log_return_1d"))
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert ModelConfig().features == tuple(FEATURE_COLUMNS)
    with pytest.raises(ValueError, match="window"):
        ModelConfig(window=0)
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({"window": 5, "dropout": 0.1})


# ------------------------------------------------------------------------------------------------- fit


def test_fit_is_deterministic_and_leaves_torch_settings_alone() -> None:
    features = sample_features()
    threads = torch.get_num_threads()
    rng_state = torch.get_rng_state()
    first = fit(features, SMALL, train_end=TRAIN_END)
    second = fit(features, SMALL, train_end=TRAIN_END)
    assert first.to_bytes() == second.to_bytes()
    pd.testing.assert_frame_equal(first.predict(features), second.predict(features))
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.get_rng_state(), rng_state)
    # A different seed is a different model (the test above is not comparing constants).
    other = fit(features, ModelConfig(**{**SMALL.to_dict(), "seed": 8}), train_end=TRAIN_END)
    assert other.to_bytes() != first.to_bytes()


def test_no_look_ahead_in_fit_or_predict() -> None:
    prices = sample_prices()
    features = price_features(prices)
    altered = price_features(changed_after(prices, TRAIN_END))
    assert not features.equals(altered)  # the future really differs

    model = fit(features, SMALL, train_end=TRAIN_END)
    model_altered = fit(altered, SMALL, train_end=TRAIN_END)
    assert model.to_bytes() == model_altered.to_bytes()
    assert model.train_end == TRAIN_END
    assert model.train_start < TRAIN_END

    forecasts = model.predict(features)
    forecasts_altered = model.predict(altered)
    up_to = forecasts["origin_day"] <= TRAIN_END
    pd.testing.assert_frame_equal(forecasts[up_to], forecasts_altered[up_to])
    assert not forecasts[~up_to].equals(forecasts_altered[~up_to])
    # The future cut off entirely gives the same forecasts up to train_end too.
    prefix = model.predict(features[features["day"] <= TRAIN_END])
    # Equal up to float noise: torch's CPU kernels may sum in a different order for a shorter batch (seen: 3e-12
    # relative); a look-ahead would move a forecast by whole units.
    np.testing.assert_allclose(prefix["forecast"], forecasts.loc[up_to, "forecast"], rtol=1e-9)


def test_scaler_is_fitted_on_training_rows_only() -> None:
    features = sample_features()
    scaler = fit_scaler(features, SMALL, train_end=TRAIN_END)
    training_rows = features[features["day"] <= TRAIN_END].dropna().tail(SMALL.max_train_rows)
    for index, column in enumerate(SMALL.features):
        if column == "avg_price":
            continue  # enters window-relative (0 at each origin): its statistics are over the training windows
        assert scaler.feature_mean[index] == pytest.approx(training_rows[column].mean(), rel=1e-12, abs=1e-15)
        assert scaler.feature_std[index] == pytest.approx(training_rows[column].std(ddof=0), rel=1e-12)
        assert scaler.feature_mean[index] != pytest.approx(features[column].mean(), rel=1e-6)
    # The target statistics: log(avg_price[t+1] / avg_price[t]) with t+1 <= train_end, over the same rows.
    price = training_rows["avg_price"].to_numpy()
    returns = np.log(price[1:] / price[:-1])[SMALL.window - 1 :]
    assert scaler.target_mean == pytest.approx(returns.mean(), rel=1e-9)
    assert scaler.target_std == pytest.approx(returns.std(), rel=1e-9)
    assert fit(features, SMALL, train_end=TRAIN_END).scaler == scaler


def test_fit_refuses_too_little_history() -> None:
    features = sample_features()
    with pytest.raises(ValueError, match="not enough"):
        fit(features, SMALL, train_end=date(2015, 1, 20))


# ------------------------------------------------------------------------------------------------- predict


def test_predict_covers_every_full_window_and_uses_the_calendar() -> None:
    features = sample_features()
    features.loc[features["day"] == date(2016, 3, 1), "range_pct"] = np.nan  # a hole: that row is dropped
    model = fit(features, SMALL, train_end=TRAIN_END)
    forecasts = model.predict(features)
    complete = features.dropna()
    assert len(forecasts) == len(complete) - SMALL.window + 1
    assert list(forecasts["origin_day"]) == list(complete["day"].iloc[SMALL.window - 1 :])
    assert date(2016, 3, 1) not in set(forecasts["origin_day"])
    assert np.isfinite(forecasts["forecast"]).all()
    by_origin = forecasts.set_index("origin_day")["target_day"]
    assert by_origin[date(2015, 12, 24)] == date(2015, 12, 28)  # Christmas and the weekend skipped
    assert by_origin[date(2016, 7, 1)] == date(2016, 7, 5)  # Independence Day
    # Forecasts are prices near today's (a daily return, not a level).
    today = features.set_index("day")["avg_price"].reindex(forecasts["origin_day"]).to_numpy()
    assert np.all(np.abs(np.log(forecasts["forecast"].to_numpy() / today)) < 0.1)


def test_round_trip_through_bytes() -> None:
    features = sample_features()
    model = fit(features, SMALL, train_end=TRAIN_END)
    data = model.to_bytes()
    loaded = load_forecaster("lstm", data)
    assert isinstance(loaded, LstmForecaster)
    assert (loaded.config, loaded.train_start, loaded.train_end, loaded.scaler) == (
        model.config,
        model.train_start,
        model.train_end,
        model.scaler,
    )
    pd.testing.assert_frame_equal(loaded.predict(features), model.predict(features))
    assert loaded.to_bytes() == data
    naive = load_forecaster("naive", NaiveForecaster(horizon=2).to_bytes())
    assert isinstance(naive, NaiveForecaster)
    assert naive.horizon == 2
    with pytest.raises(ValueError, match="unknown forecaster kind"):
        load_forecaster("arima", data)
    with pytest.raises(ValueError, match="not an LSTM"):
        load_forecaster("lstm", naive.to_bytes())


def test_naive_forecast_is_today() -> None:
    features = sample_features()
    forecasts = NaiveForecaster().predict(features)
    assert list(forecasts["origin_day"]) == list(features["day"])
    np.testing.assert_array_equal(forecasts["forecast"], features["avg_price"])
    assert forecasts.set_index("origin_day").loc[date(2015, 12, 24), "target_day"] == date(2015, 12, 28)
    two = NaiveForecaster(horizon=2).predict(features).set_index("origin_day")
    assert two.loc[date(2015, 12, 24), "target_day"] == date(2015, 12, 29)


def test_horizon_two_trains_on_targets_two_sessions_ahead() -> None:
    features = sample_features()
    config = ModelConfig(**{**SMALL.to_dict(), "horizon": 2})
    model = fit(features, config, train_end=TRAIN_END)
    rows = features[features["day"] <= TRAIN_END].dropna().tail(config.max_train_rows)
    price = rows["avg_price"].to_numpy()
    assert model.training_samples == len(rows) - config.window + 1 - 2  # the last two origins have no target yet
    assert model.scaler.target_mean == pytest.approx(np.log(price[2:] / price[:-2])[config.window - 1 :].mean())
    by_origin = model.predict(features).set_index("origin_day")["target_day"]
    assert by_origin[date(2015, 12, 24)] == date(2015, 12, 29)


# ------------------------------------------------------------------------------------------------- metrics


def test_metrics_on_a_hand_computed_example() -> None:
    actual = np.array([10.0, 12.0, 9.0, 11.0])
    forecast = np.array([11.0, 11.0, 10.0, 11.0])
    today = np.array([10.0, 10.0, 10.0, 10.0])
    metrics = forecast_metrics(actual, forecast, today, today)
    # errors -1, 1, -1, 0; naive errors 0, 2, 1, 1 (MAE 1.0)
    assert metrics["n"] == 4
    assert metrics["mae"] == pytest.approx(0.75)
    assert metrics["rmse"] == pytest.approx(np.sqrt(0.75))
    assert metrics["mape"] == pytest.approx((1 / 10 + 1 / 12 + 1 / 9 + 0) / 4 * 100)
    # moves: forecast up, up, none, up; actual none, up, down, up -> hits on the 2nd and 4th only (ties miss)
    assert metrics["directional_accuracy"] == pytest.approx(0.5)
    assert metrics["mase"] == pytest.approx(0.75)
    naive = forecast_metrics(actual, today, today, today)
    assert naive["mase"] == 1.0
    assert naive["directional_accuracy"] == 0.0
    # An origin without a forecast is left out of every metric, the naive denominator included.
    partial = forecast_metrics(np.append(actual, 20.0), np.append(forecast, np.nan), np.append(today, 10), [10] * 5)
    assert partial == metrics


# ------------------------------------------------------------------------------------------------- walk-forward


class SpyForecaster:
    """Wraps a forecaster and records the last day of every frame it is given to predict from."""

    def __init__(self, inner: Forecaster, seen: list[date]) -> None:
        self.inner = inner
        self.seen = seen
        self.name = inner.name
        self.horizon = inner.horizon

    @property
    def history_rows(self) -> int:
        return self.inner.history_rows

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        self.seen.append(max(features["day"]))
        return self.inner.predict(features)

    def to_bytes(self) -> bytes:
        return self.inner.to_bytes()


def spying(make: Callable[[pd.DataFrame, date], Forecaster]) -> tuple[Callable, list, list]:
    fitted: list[tuple[date, date]] = []
    predicted: list[date] = []

    def make_forecaster(history: pd.DataFrame, train_end: date) -> Forecaster:
        fitted.append((train_end, max(history["day"])))
        return SpyForecaster(make(history, train_end), predicted)

    return make_forecaster, fitted, predicted


def test_walk_forward_sees_only_data_up_to_each_origin() -> None:
    features = sample_features()
    make, fitted, predicted = spying(lambda history, end: fit(history, SMALL, train_end=end))
    result = walk_forward(features, make, origins=7, refit_every=3)

    origins = list(result.table["origin_day"])
    assert origins == list(features["day"].iloc[-8:-1])  # the last session has no actual yet
    assert [train_end for train_end, _ in fitted] == [origins[0], origins[3], origins[6]]
    assert all(last_day == train_end for train_end, last_day in fitted)
    assert predicted == origins  # every forecast made from the rows up to its own origin
    assert result.fits == 3

    prices = features.set_index("day")["avg_price"]
    table = result.table
    assert list(table.columns) == ["origin_day", "target_day", "actual", "forecast", "naive", "today"]
    np.testing.assert_array_equal(table["actual"], prices.reindex(table["target_day"]).to_numpy())
    np.testing.assert_array_equal(table["today"], prices.reindex(table["origin_day"]).to_numpy())
    np.testing.assert_array_equal(table["naive"], table["today"])
    assert table["forecast"].notna().all()
    assert result.metrics["n"] == 7
    assert result.naive_metrics["mase"] == 1.0
    assert result.metrics["mase"] == pytest.approx(result.metrics["mae"] / result.naive_metrics["mae"])


def test_walk_forward_of_the_naive_forecaster_scores_one() -> None:
    features = sample_features()
    result = walk_forward(features, lambda history, end: NaiveForecaster(), origins=30, refit_every=10)
    assert result.metrics["mase"] == 1.0
    assert result.metrics["directional_accuracy"] == 0.0
    with pytest.raises(ValueError, match="horizon"):
        walk_forward(features, lambda history, end: NaiveForecaster(2), origins=3, refit_every=1)
    with pytest.raises(ValueError, match="origins asked"):
        evaluation_origins(features, origins=len(features))


def test_walk_forward_forecasts_ignore_later_sessions() -> None:
    # Change the last three sessions: the forecasts from every origin before them must not move (their actuals
    # may). A walk-forward that fitted once on the whole frame, or scaled with later rows, would fail here.
    prices = sample_prices()
    changed_from = prices["day"].iloc[-4]
    features = price_features(prices)
    altered = price_features(changed_after(prices, changed_from))

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        return walk_forward(frame, lambda h, e: fit(h, SMALL, train_end=e), origins=7, refit_every=3).table

    table, table_altered = run(features), run(altered)
    before = table["origin_day"] <= changed_from
    assert before.sum() == 5
    pd.testing.assert_series_equal(table.loc[before, "forecast"], table_altered.loc[before, "forecast"])
    assert not table["actual"].equals(table_altered["actual"])
    assert not table.loc[~before, "forecast"].equals(table_altered.loc[~before, "forecast"])


def test_lstm_is_not_claimed_to_beat_a_pure_random_walk() -> None:
    features = random_walk_features()
    config = ModelConfig(window=10, hidden_size=8, epochs=5, batch_size=32)
    result = walk_forward(features, lambda h, e: fit(h, config, train_end=e), origins=40, refit_every=20)
    mase = result.metrics["mase"]
    # Honest reporting: on a random walk nothing beats "tomorrow = today" in expectation. We only assert the score
    # is a sane number; a value well below 1 here would point at look-ahead.
    assert np.isfinite(mase)
    assert mase > 0.5


# ------------------------------------------------------------------------------------------------- search


TINY_GRID = (
    ModelConfig(window=5, hidden_size=4, epochs=2, batch_size=64, max_train_rows=200),
    ModelConfig(window=8, hidden_size=4, epochs=2, batch_size=64, max_train_rows=200),
)
VALIDATION_END = date(2016, 10, 31)


def test_search_stops_at_the_budget_but_runs_one_trial() -> None:
    result = search(
        sample_features(),
        grid=TINY_GRID,
        validation_end=VALIDATION_END,
        origins=4,
        refit_every=4,
        time_budget_seconds=0.0,
    )
    assert list(result.trials["status"]) == ["done", "skipped: budget"]
    assert result.best_config == TINY_GRID[0]
    assert np.isfinite(result.trials["mase"].iloc[0])
    assert np.isnan(result.trials["mase"].iloc[1])
    assert result.best_mase == result.trials["mase"].iloc[0]


def test_search_never_reads_past_validation_end(monkeypatch: pytest.MonkeyPatch) -> None:
    prices = sample_prices()
    features = price_features(prices)
    seen: list[date] = []
    real_fit = search_module.fit

    def spy_fit(history: pd.DataFrame, config: ModelConfig, *, train_end: date) -> Forecaster:
        seen.append(max(history["day"]))
        return SpyForecaster(real_fit(history, config, train_end=train_end), seen)

    monkeypatch.setattr(search_module, "fit", spy_fit)
    kwargs = {"grid": TINY_GRID, "validation_end": VALIDATION_END, "origins": 4, "refit_every": 2}
    result = search(features, time_budget_seconds=3600.0, **kwargs)
    assert list(result.trials["status"]) == ["done", "done"]
    assert seen
    assert max(seen) <= VALIDATION_END
    assert result.best.table["target_day"].max() <= VALIDATION_END
    assert result.best.table["origin_day"].max() < VALIDATION_END

    # What follows validation_end cannot change the outcome.
    monkeypatch.setattr(search_module, "fit", real_fit)
    baseline = search(features, time_budget_seconds=3600.0, **kwargs)
    altered = search(price_features(changed_after(prices, VALIDATION_END)), time_budget_seconds=3600.0, **kwargs)
    assert baseline.best_config == altered.best_config
    assert list(baseline.trials["mase"]) == list(altered.trials["mase"])


def test_default_grid_is_four_small_configs() -> None:
    assert len(DEFAULT_GRID) == 4
    assert DEFAULT_GRID[0] == ModelConfig()
    assert len(set(DEFAULT_GRID)) == 4
    assert all(c.hidden_size <= 64 and c.epochs <= 30 for c in DEFAULT_GRID)
