"""Forecasting's plain data functions: the NYSE calendar and partitions, merging a provider's answer into the
stored history (splits, restatements), the data-quality rules and the features (no look-ahead)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from ops_assets.forecasting import trading_calendar as tc
from ops_assets.forecasting.features import FEATURE_COLUMNS, price_features
from ops_assets.forecasting.prices import Split, adjust_for_split, likely_split_ratio, merge_history
from ops_assets.forecasting.storage import prices_from_parquet, prices_to_parquet
from ops_assets.forecasting.validation import (
    frozen_runs,
    inconsistent_bars,
    missing_and_duplicate_sessions,
    outsized_jumps,
)

# ------------------------------------------------------------------------------------------------ calendar


def test_sessions_follow_the_nyse_calendar() -> None:
    days = tc.sessions(date(2026, 11, 20), date(2026, 11, 30))
    assert days == [date(2026, 11, d) for d in (20, 23, 24, 25, 27, 30)]  # Thanksgiving 26th, weekend out
    assert not tc.is_session(date(2026, 7, 3))  # Independence Day observed (the 4th is a Saturday)
    assert tc.is_session(date(2026, 11, 27))  # the half day after Thanksgiving is a session


def test_session_close_knows_half_days_and_dst() -> None:
    assert tc.session_close(date(2026, 11, 27)) == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 13:00 EST
    assert tc.session_close(date(2026, 11, 25)) == datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # 16:00 EST
    assert tc.session_close(date(2026, 7, 2)) == datetime(2026, 7, 2, 20, 0, tzinfo=UTC)  # 16:00 EDT
    assert tc.session_close(date(2026, 3, 9)) == datetime(2026, 3, 9, 20, 0, tzinfo=UTC)  # day after the switch


def test_previous_session_and_windows_skip_closed_days() -> None:
    assert tc.previous_session(date(2026, 11, 27)) == date(2026, 11, 25)
    assert tc.previous_session(date(2026, 11, 30)) == date(2026, 11, 27)
    assert tc.sessions_before(date(2026, 11, 29), 3) == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27)]


def test_partitions_are_the_sessions() -> None:
    from ops_assets.forecasting.partitions import trading_days

    # Tuesday 1 December, 17:00 New York: today's partition exists (end_offset=1), so the after-close
    # schedule can request it; Wednesday's does not yet.
    keys = trading_days.get_partition_keys(current_time=datetime(2026, 12, 1, 22, tzinfo=UTC))
    window = [k for k in keys if k >= "2026-11-20"]
    assert window == [d.isoformat() for d in tc.sessions(date(2026, 11, 20), date(2026, 12, 1))]
    assert len(keys) == len(tc.sessions(date(2005, 1, 3), date(2026, 12, 1)))


# ------------------------------------------------------------------------------------------------ merging


def frame(days: list[date], closes: list[float], volume: float = 1000.0) -> pd.DataFrame:
    closes_a = np.asarray(closes, dtype=float)
    return pd.DataFrame(
        {
            "day": days,
            "open": closes_a,
            "high": closes_a * 1.01,
            "low": closes_a * 0.99,
            "close": closes_a,
            "volume": np.full(len(days), volume),
        }
    )


DAYS = tc.sessions(date(2026, 11, 2), date(2026, 11, 13))  # 10 sessions


def test_first_answer_is_stored_whole() -> None:
    merged, splits, report = merge_history(frame([], []), [], frame(DAYS, [100.0] * 10), [], answer_is_adjusted=False)
    assert len(merged) == 10
    assert splits == []
    assert report.added_days == 10
    assert not report.changed_history


def test_same_answer_again_changes_nothing() -> None:
    stored = frame(DAYS, list(range(100, 110)))
    merged, _, report = merge_history(stored, [], stored.copy(), [], answer_is_adjusted=False)
    pd.testing.assert_frame_equal(merged, stored)
    assert (report.added_days, report.unchanged_days, report.changed_history) == (0, 10, False)


def test_as_traded_split_adjusts_earlier_history() -> None:
    # Stored before the split; the provider answers as traded: the price drops 4x on the split day.
    stored = frame(DAYS[:6], [400.0] * 6)
    split = Split(DAYS[8], 4.0)
    answer = frame(DAYS[4:], [400.0, 400.0, 400.0, 400.0, 100.0, 100.0])
    merged, splits, report = merge_history(stored, [], answer, [split], answer_is_adjusted=False)
    assert splits == [split]
    assert merged["close"].tolist() == [100.0] * 10  # one continuous adjusted series
    assert merged.loc[0, "volume"] == 4000.0
    assert report.new_splits == [split]
    assert report.unchanged_days == 2
    assert not report.restated_days


def test_adjusted_provider_split_rescales_history_before_it() -> None:
    # Yahoo-like: the answer is already adjusted and lists the split; stored days before it are rescaled.
    stored = frame(DAYS[:6], [300.0] * 6)
    split = Split(DAYS[7], 3.0)
    answer = adjust_for_split(frame(DAYS[3:], [300.0] * 4 + [100.0] * 3), split)  # as the provider adjusts
    merged, _, report = merge_history(stored, [], answer, [split], answer_is_adjusted=True)
    assert merged["close"].tolist() == [100.0] * 10
    assert report.unchanged_days == 3
    assert not report.restated_days
    assert report.inferred_split_factor is None


def test_an_unlisted_constant_factor_is_reported_as_a_split_not_overwritten_silently() -> None:
    stored = frame(DAYS[:6], [200.0] * 6)
    answer = frame(DAYS[3:], [100.0] * 7)  # 2:1 somewhere before the fetched range, no event in the answer
    _, _, report = merge_history(stored, [], answer, [], answer_is_adjusted=True)
    assert report.inferred_split_factor == pytest.approx(2.0)
    assert "constant factor 2" in report.describe()


def test_a_restatement_is_reported_day_by_day_and_the_answer_wins() -> None:
    stored = frame(DAYS[:6], [100.0, 101, 102, 103, 104, 105])
    answer = frame(DAYS[3:], [103.0, 99.0, 105, 106, 107, 108, 109])  # DAYS[4] restated
    merged, _, report = merge_history(stored, [], answer, [], answer_is_adjusted=False)
    assert report.restated_days == [DAYS[4]]
    assert merged.loc[merged["day"] == DAYS[4], "close"].item() == 99.0
    assert "restated 1 stored days" in report.describe()


def test_storage_round_trip_keeps_splits_with_the_prices() -> None:
    prices = frame(DAYS, list(range(100, 110)))
    splits = [Split(DAYS[3], 3.0)]
    back, back_splits = prices_from_parquet(prices_to_parquet(prices, splits))
    pd.testing.assert_frame_equal(back, prices)
    assert back_splits == splits
    assert prices_from_parquet(None)[1] == []


def test_split_ratios() -> None:
    assert likely_split_ratio(4.0).numerator == 4
    assert likely_split_ratio(1 / 10) == pytest.approx(0.1)
    assert likely_split_ratio(1.5) == pytest.approx(1.5)
    assert likely_split_ratio(1.37) is None
    assert likely_split_ratio(50 / 68) is None  # a 36 % rise is a move, not a 19:14 split
    assert likely_split_ratio(1.0) is None
    assert adjust_for_split(frame(DAYS[:2], [10.0, 10.0]), Split(DAYS[1], 2.0))["close"].tolist() == [5.0, 10.0]


# ------------------------------------------------------------------------------------------------ validation


def test_missing_and_duplicate_sessions() -> None:
    prices = frame([DAYS[0], DAYS[1], DAYS[1], DAYS[3]], [1.0, 1.0, 1.0, 1.0])
    assert missing_and_duplicate_sessions(prices, DAYS[:4]) == ([DAYS[2]], [DAYS[1]])


def test_inconsistent_bars() -> None:
    prices = frame(DAYS[:4], [10.0, 10.0, 10.0, 10.0])
    prices.loc[1, "low"] = 10.5  # low above open and close
    prices.loc[2, "volume"] = -1
    prices.loc[3, "close"] = float("nan")
    assert inconsistent_bars(prices) == [DAYS[1], DAYS[2], DAYS[3]]


def test_frozen_runs_need_the_full_length() -> None:
    prices = frame(DAYS[:8], [1.0, 2.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0])
    assert frozen_runs(prices, 3) == [(DAYS[1], DAYS[3])]
    assert frozen_runs(prices, 4) == []


def test_jumps_name_their_likely_cause() -> None:
    prices = frame(DAYS[:4], [100.0, 50.0, 50.0, 68.0])
    jumps = outsized_jumps(prices, 0.25)
    assert [(j.day, j.cause) for j in jumps] == [(DAYS[1], "split 2:1?"), (DAYS[3], "move")]


# ------------------------------------------------------------------------------------------------ features


def random_prices(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = tc.sessions(date(2022, 1, 3), date(2026, 11, 27))[:n]
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    return pd.DataFrame(
        {
            "day": days,
            "open": open_,
            "high": np.maximum(open_, close) * 1.01,
            "low": np.minimum(open_, close) * 0.99,
            "close": close,
            "volume": rng.integers(1_000, 5_000, n).astype(float),
        }
    )


def test_avg_price_is_the_ohlc_mean() -> None:
    prices = frame(DAYS[:1], [100.0])
    assert price_features(prices)["avg_price"].item() == pytest.approx((100 + 101 + 99 + 100) / 4)


def test_features_of_a_prefix_are_the_prefix_of_the_features() -> None:
    prices = random_prices(120)
    full = price_features(prices)
    for cut in (25, 60, 119):
        pd.testing.assert_frame_equal(price_features(prices.iloc[:cut]), full.iloc[:cut])
    # Changing data after day D never changes features up to D.
    changed = prices.copy()
    changed.loc[80:, ["open", "high", "low", "close"]] *= 3
    pd.testing.assert_frame_equal(price_features(changed).iloc[:80], full.iloc[:80])
    assert list(full.columns) == ["day", *FEATURE_COLUMNS, "close"]
    assert full.iloc[25:][FEATURE_COLUMNS].notna().all().all()


# ------------------------------------------------------------------------------------------------ drift


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift() -> None:
    from ops_assets.forecasting.drift import degradation_ratio, population_stability_index

    rng = np.random.default_rng(11)
    base = rng.normal(0, 1, 5000)
    assert population_stability_index(base, rng.normal(0, 1, 500)) < 0.1
    assert population_stability_index(base, rng.normal(1.0, 1, 500)) > 0.25
    assert population_stability_index(base, rng.normal(0, 2.5, 500)) > 0.25
    assert np.isnan(population_stability_index(base[:5], base))
    assert degradation_ratio(1.2, 0.8) == pytest.approx(1.5)
    assert np.isnan(degradation_ratio(1.0, 0.0))


def test_feature_drift_is_judged_against_the_features_own_history() -> None:
    from ops_assets.forecasting.drift import feature_drift

    prices = random_prices(700)
    features = price_features(prices)
    window = {"train_start": features["day"][0], "train_end": features["day"][599], "recent": 60, "floor": 0.25}
    columns = ["log_return_1d", "volatility_20d"]
    calm = feature_drift(features, columns, **window)
    # Persistent features (20-session volatility) score high PSIs inside the training data too: the threshold
    # comes from those blocks, so an ordinary window is not drift.
    assert calm["volatility_20d"].threshold > 0.25
    assert not any(d.drifted for d in calm.values())
    shifted = features.copy()
    shifted.loc[640:, "log_return_1d"] += 0.08
    assert feature_drift(shifted, columns, **window)["log_return_1d"].drifted
    # Fewer than 60 sessions since training: no judgment yet.
    assert feature_drift(features.iloc[:650], columns, **window) is None


def test_a_split_after_the_forecast_does_not_change_its_error() -> None:
    from ops_assets.forecasting.performance import realised_errors, rolling_mase

    days = DAYS[:3]
    prediction = pd.DataFrame(
        {
            "ticker": ["ACME"],
            "origin_day": [days[0]],
            "target_day": [days[1]],
            "forecast": [303.0],  # made when avg_price was 300 (before a 3:1 split)
            "model_version": [1],
            "model_kind": ["lstm"],
            "origin_price": [300.0],
        }
    )
    before_split = pd.DataFrame({"day": days, "avg_price": [300.0, 297.0, 299.0]})
    after_split = before_split.assign(avg_price=before_split["avg_price"] / 3)  # the history re-adjusted later
    errors = [realised_errors(prediction, {"ACME": f}, as_of=days[2]) for f in (before_split, after_split)]
    assert errors[0]["error"].item() == pytest.approx(6.0)
    assert errors[1]["error"].item() == pytest.approx(2.0)  # the same 2 % miss, in post-split units
    assert [rolling_mase(e)["mase_20"].item() for e in errors] == pytest.approx([2.0, 2.0])
