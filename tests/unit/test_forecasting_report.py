"""The daily forecast report: a real PNG of the expected size, the same bytes for the same inputs, different bytes for
different data, and a report even before any forecast is realised."""

from __future__ import annotations

import ast
import io
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ops_assets.forecasting import keys, report
from ops_assets.forecasting.performance import PREDICTION_COLUMNS, realised_errors
from ops_assets.forecasting.report import forecast_report_png, report_markdown, report_size, report_table
from ops_assets.forecasting.trading_calendar import sessions

DAYS = sessions(date(2026, 6, 1), date(2026, 11, 27))
DAY = DAYS[-1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def features_of(seed: int, start: float) -> pd.DataFrame:
    steps = np.random.default_rng(seed).normal(0, 0.012, len(DAYS))
    return pd.DataFrame({"day": DAYS, "avg_price": start * np.exp(np.cumsum(steps))})


FEATURES = {"AMZN": features_of(1, 180.0), "MSFT": features_of(2, 410.0)}


def predictions_for(features: dict[str, pd.DataFrame], origins: list[date], version_from: date) -> pd.DataFrame:
    """One forecast per ticker and origin for the next session: the naive forecast before ``version_from``, then
    version 1 (the naive price nudged by a fixed, seeded noise)."""
    rng = np.random.default_rng(7)
    rows = []
    for ticker, frame in sorted(features.items()):
        price = frame.set_index("day")["avg_price"]
        for origin in origins:
            target = DAYS[DAYS.index(origin) + 1] if origin != DAY else date(2026, 11, 30)
            trained = origin >= version_from
            noise = float(rng.normal(0, 0.01)) if trained else 0.0
            rows.append(
                {
                    "ticker": ticker,
                    "origin_day": origin,
                    "target_day": target,
                    "forecast": float(price[origin]) * (1 + noise),
                    "model_version": 1 if trained else 0,
                    "model_kind": "lstm" if trained else "naive",
                }
            )
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


PREDICTIONS = predictions_for(FEATURES, DAYS[-40:], version_from=DAYS[-15])
SCORED = realised_errors(PREDICTIONS, FEATURES, as_of=DAY)
NOTHING_SCORED = SCORED.iloc[0:0]


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_the_report_is_a_png_of_the_expected_size() -> None:
    png = forecast_report_png(SCORED, FEATURES, day=DAY)
    assert png[:8] == PNG_MAGIC
    image = decode(png)
    assert image.format == "PNG"
    assert image.size == report_size(2)
    one = decode(forecast_report_png(SCORED, {"AMZN": FEATURES["AMZN"]}, day=DAY))
    assert one.size == report_size(1)
    assert report_size(1)[0] == report_size(2)[0]
    assert report_size(1)[1] < report_size(2)[1]


def test_same_inputs_give_the_same_bytes_and_no_dates_are_embedded() -> None:
    first = forecast_report_png(SCORED, FEATURES, day=DAY)
    # Another figure in between: nothing carries over from one call to the next.
    forecast_report_png(NOTHING_SCORED, {"MSFT": FEATURES["MSFT"]}, day=DAYS[-5], sessions=20)
    again = forecast_report_png(SCORED.copy(), {t: f.copy() for t, f in FEATURES.items()}, day=DAY)
    assert first == again
    # No text chunk naming the software (matplotlib's version) or a creation time.
    assert b"Software" not in first
    assert b"Creation Time" not in first
    assert b"matplotlib" not in first.lower()


def test_different_data_gives_a_different_picture() -> None:
    base = forecast_report_png(SCORED, FEATURES, day=DAY)
    worse = SCORED.copy()
    worse.loc[worse.index[-1], "forecast"] *= 1.05
    worse.loc[worse.index[-1], "error"] = abs(worse["actual"].iloc[-1] - worse["forecast"].iloc[-1])
    assert forecast_report_png(worse, FEATURES, day=DAY) != base
    moved = {**FEATURES, "MSFT": FEATURES["MSFT"].assign(avg_price=FEATURES["MSFT"]["avg_price"] * 1.01)}
    assert forecast_report_png(SCORED, moved, day=DAY) != base
    assert forecast_report_png(SCORED, FEATURES, day=DAYS[-2]) != base
    assert forecast_report_png(SCORED, FEATURES, day=DAY, sessions=30) != base


def test_a_report_before_any_forecast_is_realised() -> None:
    for nothing in (NOTHING_SCORED, pd.DataFrame(columns=PREDICTION_COLUMNS), pd.DataFrame()):
        png = forecast_report_png(nothing, FEATURES, day=DAY)
        assert decode(png).size == report_size(2)
        assert png != forecast_report_png(SCORED, FEATURES, day=DAY)
    assert report_table(NOTHING_SCORED, day=DAY).empty
    # The day's forecasts, not scored yet, are still drawn (hollow, at their target session).
    today = PREDICTIONS[PREDICTIONS["origin_day"] == DAY]
    with_pending = forecast_report_png(NOTHING_SCORED, FEATURES, day=DAY, pending=today)
    assert with_pending != forecast_report_png(NOTHING_SCORED, FEATURES, day=DAY)
    assert decode(with_pending).size == report_size(2)


def test_nothing_after_the_report_day_shows() -> None:
    # The report of an earlier day is the same whether or not later predictions and prices were stored since:
    # forecasts made after the day are left out, and those whose target is after it are drawn as not scored yet.
    earlier = DAYS[-10]
    cut = PREDICTIONS[PREDICTIONS["origin_day"] <= earlier]
    cut_features = {t: f[f["day"] <= earlier] for t, f in FEATURES.items()}
    assert forecast_report_png(SCORED, FEATURES, day=earlier) == forecast_report_png(
        realised_errors(cut, cut_features, as_of=earlier), cut_features, day=earlier, pending=cut
    )


def test_pending_forecasts_already_scored_are_drawn_once() -> None:
    # Passing all predictions as pending adds only the unscored one (the day's), same as passing just that.
    today = PREDICTIONS[PREDICTIONS["origin_day"] == DAY]
    assert forecast_report_png(SCORED, FEATURES, day=DAY, pending=PREDICTIONS) == forecast_report_png(
        SCORED, FEATURES, day=DAY, pending=today
    )


def test_the_error_band_is_the_rolling_mae_or_the_naive_mae_before_any() -> None:
    ticker = SCORED[SCORED["ticker"] == "AMZN"].sort_values("target_day")
    prices = FEATURES["AMZN"]
    band = report._band(ticker, ticker, prices, day=DAY)
    errors = ticker["error"].to_numpy()
    # The 30th forecast's band: the mean error of the 20 scored before its target session.
    assert band[30] == pytest.approx(errors[10:30].mean())
    assert band[5] == pytest.approx(errors[:5].mean())
    # The first has nothing scored before it: the naive forecast's MAE over the 20 sessions up to its origin.
    moves = prices.set_index("day")["avg_price"].diff().abs()
    origin = ticker["origin_day"].iloc[0]
    assert band[0] == pytest.approx(moves[moves.index <= origin].dropna().tail(20).mean())


def test_the_metrics_table_and_markdown() -> None:
    table = report_table(SCORED, day=DAY)
    assert table["model_version"].tolist() == [1, 0]  # most recently scored first
    assert table.set_index("model_version").loc[0, "mase_20"] == pytest.approx(1.0)  # naive vs naive
    key = keys.report_key(DAY)
    text = report_markdown(key, table)
    assert f"`{key}`" in text
    assert "| version | kind | scored |" in text
    lines = text.splitlines()
    assert any(line.startswith("| 1 | lstm | 28 |") for line in lines)
    assert any(line.startswith("| 0 | naive | 50 |") for line in lines)
    assert "data:image/png" not in text
    png = forecast_report_png(SCORED, FEATURES, day=DAY)
    assert "![forecast report](data:image/png;base64,iVBORw0KGgo" in report_markdown(key, table, png=png)
    empty = report_markdown(key, report_table(NOTHING_SCORED, day=DAY))
    assert "no realised forecasts yet" in empty
    assert f"`{key}`" in empty


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="features"):
        forecast_report_png(SCORED, {}, day=DAY)
    with pytest.raises(ValueError, match="sessions"):
        forecast_report_png(SCORED, FEATURES, day=DAY, sessions=1)


def test_the_report_never_touches_pyplot() -> None:
    tree = ast.parse(Path(report.__file__).read_text())
    imported = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in ([node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
    }
    assert not any("pyplot" in name or name == "dagster" for name in imported)
    assert "matplotlib.backends.backend_agg" in imported
