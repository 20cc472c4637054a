"""Drift checks and the retrain sensor on controlled inputs: a champion trained on calm data, then features that
drift (or not), and realised forecasts that degrade (or not)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from ops_assets.forecasting import keys
from ops_assets.forecasting.checks import _health, degradation_result, drift_result
from ops_assets.forecasting.features import FEATURE_COLUMNS
from ops_assets.forecasting.registry import ModelCard, ModelRegistry
from ops_assets.forecasting.sensors import RETRAIN_REASON_TAG, forecast_retrain_sensor
from ops_assets.forecasting.settings import ForecastingSettings
from ops_assets.forecasting.storage import frame_to_parquet
from ops_assets.forecasting.trading_calendar import sessions
from resources.notifier import LocalOutboxNotifier
from resources.object_store import LocalObjectStore

DAYS = sessions(date(2024, 1, 2), date(2026, 11, 27))
TRAIN_END = DAYS[-61]


def features(shift: float) -> pd.DataFrame:
    """Calm features; the last 60 sessions moved by ``shift`` standard deviations."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({c: rng.normal(0, 1, len(DAYS)) for c in FEATURE_COLUMNS})
    frame["avg_price"] = 100.0
    frame.loc[len(DAYS) - 60 :, FEATURE_COLUMNS[1:]] += shift
    return frame.assign(day=DAYS)[["day", *FEATURE_COLUMNS]]


def performance(errors: float) -> pd.DataFrame:
    """60 realised predictions of version 1 with the given error, against a naive error of 1.0."""
    days = DAYS[-61:-1]
    return pd.DataFrame(
        {
            "ticker": "AMZN",
            "origin_day": days,
            "target_day": DAYS[-60:],
            "forecast": 100.0,
            "model_version": 1,
            "model_kind": "lstm",
            "actual": 100.0,
            "today": 100.0,
            "error": errors,
            "naive_error": 1.0,
        }
    )


@pytest.fixture
def setup(tmp_path: Path):
    store = LocalObjectStore(root=str(tmp_path / "objects"))
    registry = ModelRegistry(store)
    card = ModelCard(
        version=-1,
        kind="lstm",
        config={"AMZN": {"features": list(FEATURE_COLUMNS)}},
        data_start=DAYS[0].isoformat(),
        data_end=TRAIN_END.isoformat(),
        data_hash="x",
        metrics={"mase": 0.9},
        evaluation_window="",
        code_version="test",
        created_at="2026-11-01T00:00:00+00:00",
        tickers=["AMZN"],
    )
    registry.promote(registry.register(b"unused", card).version, "test")
    settings = ForecastingSettings(tickers=["AMZN"])
    notifier = LocalOutboxNotifier(outbox_path=str(tmp_path / "outbox.jsonl"))
    return store, settings, notifier, tmp_path


def write(store: LocalObjectStore, *, shift: float, errors: float) -> None:
    store.put_bytes(keys.features_key("AMZN"), frame_to_parquet(features(shift)))
    store.put_bytes(keys.performance_key(DAYS[-1]), frame_to_parquet(performance(errors)))


def tick(store, settings, notifier, cursor: str | None = None):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"object_store": store, "forecasting_settings": settings, "notifier": notifier},
        )
        return forecast_retrain_sensor(context)


def run_checks(store: LocalObjectStore, settings: ForecastingSettings) -> dict[str, dg.AssetCheckResult]:
    """Both champion checks on one computation of the champion's health, as their one op does."""
    health = _health(store, settings)
    results = [drift_result(health), degradation_result(health)]
    return {r.check_name: r for r in results}


def test_a_healthy_champion_is_left_alone(setup) -> None:
    store, settings, notifier, _ = setup
    write(store, shift=0.0, errors=0.9)  # live MASE 0.9 = backtest
    results = run_checks(store, settings)
    assert set(results) == {"features_match_training", "champion_performance_holds"}
    assert all(r.passed for r in results.values())
    assert isinstance(tick(store, settings, notifier), dg.SkipReason)


def test_drift_and_degradation_request_one_retraining_with_the_reason(setup) -> None:
    store, settings, notifier, tmp_path = setup
    write(store, shift=2.0, errors=1.5)  # features moved 2 sd; live MASE 1.5 = 1.67x backtest

    results = run_checks(store, settings)
    drift, degradation = results["features_match_training"], results["champion_performance_holds"]
    assert not drift.passed
    assert "log_return_1d" in drift.description
    assert not degradation.passed
    assert "live MASE 1.500 vs backtest 0.900" in degradation.description

    result = tick(store, settings, notifier)
    [request] = result.run_requests
    reason = request.tags[RETRAIN_REASON_TAG]
    assert "AMZN: feature drift in" in reason
    assert "1.67x the backtest's 0.900" in reason
    assert "Forecast model RETRAIN requested - version 1" in (tmp_path / "outbox.jsonl").read_text()
    # Asked again within the interval: not again.
    again = tick(store, settings, notifier, cursor=result.cursor)
    assert isinstance(again, dg.SkipReason)
    assert "not again so soon" in again.skip_message


def test_both_checks_run_as_one_op_computing_the_health_once(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    import ops_assets.forecasting.checks as checks
    from ops_assets.forecasting.assets import forecast_performance, price_features

    store, settings, _, _ = setup
    write(store, shift=2.0, errors=0.9)
    calls: list[int] = []
    real = checks.champion_health

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checks, "champion_health", counting)
    result = dg.materialize(
        [price_features, forecast_performance, checks.champion_health_checks],
        selection=dg.AssetSelection.all_asset_checks(),
        resources={"object_store": store, "forecasting_settings": settings},
    )
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"features_match_training": False, "champion_performance_holds": True}
    assert len(calls) == 1
