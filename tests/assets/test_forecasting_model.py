"""The model half of forecasting materialized on the sample: training with the promotion gate, the served
predictions (no model that saw later prices), their realised performance, and the drift checks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from ops_assets.forecasting import keys
from ops_assets.forecasting.assets import (
    daily_prices,
    forecast_model,
    forecast_performance,
    forecast_predictions,
    forecast_report,
    price_features,
)
from ops_assets.forecasting.checks import forecasting_checks
from ops_assets.forecasting.registry import NAIVE_VERSION, ModelRegistry
from ops_assets.forecasting.settings import ForecastingSettings
from ops_assets.forecasting.storage import frame_from_parquet
from ops_assets.forecasting.trading_calendar import sessions
from resources.notifier import LocalOutboxNotifier
from resources.object_store import LocalObjectStore
from resources.sample_sources.prices import SAMPLE_PRICES_END
from resources.sample_sources.resources import SamplePriceSource

# Small and quick: one config, two epochs, short windows.
QUICK = {
    "tickers": ["AMZN"],
    "history_start_date": "2023-01-03",
    "epochs": 2,
    "search_trials": 1,
    "evaluation_origins": 20,
    "validation_origins": 10,
    "refit_every": 10,
}
DAYS = sessions(date(2026, 10, 26), SAMPLE_PRICES_END)


def resources(data_dir: Path, **settings: object) -> dict:
    return {
        "object_store": LocalObjectStore(root=str(data_dir / "objects")),
        "price_source": SamplePriceSource(),
        "forecasting_settings": ForecastingSettings(**{**QUICK, **settings}),
        "notifier": LocalOutboxNotifier(outbox_path=str(data_dir / "outbox.jsonl")),
    }


@pytest.fixture
def data_ready(tmp_path: Path) -> dict:
    res = resources(tmp_path)
    assert dg.materialize([daily_prices, price_features], resources=res, partition_key=DAYS[-1].isoformat()).success
    return res


def train(res: dict, **settings: object) -> dg.ExecuteInJobResult:
    if settings:
        res = {**res, "forecasting_settings": ForecastingSettings(**{**QUICK, **settings})}
    return dg.materialize([forecast_model], resources=res)


def test_training_registers_a_version_and_the_gate_decides(data_ready: dict) -> None:
    registry = ModelRegistry(data_ready["object_store"])
    # An impossible margin: the candidate must be 100 % better than the naive champion.
    rejected = train(data_ready, promotion_margin=1.0)
    metadata = rejected.asset_materializations_for_node("forecast_model")[0].metadata
    assert metadata["decision"].value == "REJECTED"
    assert registry.champion() == NAIVE_VERSION
    # Any MASE beats a champion under a negative margin: promoted.
    promoted = train(data_ready, promotion_margin=-10.0)
    assert promoted.asset_materializations_for_node("forecast_model")[0].metadata["decision"].value == "PROMOTED"
    assert registry.champion() == 2
    card = registry.card(2)
    assert card.data_end == DAYS[-1].isoformat()
    assert card.metrics["mase"] > 0
    assert [e["kind"] for e in registry.events()] == ["registered", "rejected", "registered", "promoted"]
    outbox = (Path(data_ready["notifier"].outbox_path)).read_text()
    assert "Forecast model REJECTED - version 1" in outbox
    assert "Forecast model PROMOTED - version 2" in outbox


def test_predictions_never_use_a_model_that_saw_later_prices(data_ready: dict) -> None:
    assert train(data_ready, promotion_margin=-10.0).success  # champion v1, trained up to DAYS[-1]
    store = data_ready["object_store"]
    everything = [forecast_predictions, forecast_performance, forecast_report, *forecasting_checks[-1:]]
    for day in DAYS[-3:]:
        assert dg.materialize(everything, resources=data_ready, partition_key=day.isoformat()).success

    made = {day: frame_from_parquet(store.get_bytes(keys.predictions_key(day))) for day in DAYS[-3:]}
    # Before the last session, v1 had not been trained on data up to then: the naive forecast served.
    assert made[DAYS[-3]]["model_version"].tolist() == [NAIVE_VERSION]
    assert made[DAYS[-1]]["model_version"].tolist() == [1]
    assert made[DAYS[-1]]["target_day"].tolist() == [date(2026, 11, 30)]
    performance = frame_from_parquet(store.get_bytes(keys.performance_key(DAYS[-1])))
    # Two forecasts made before the last session have their actuals; the last one's target is in the future.
    assert sorted(performance["origin_day"]) == DAYS[-3:-1]
    assert (performance["forecast"] == performance["today"]).all()  # naive: tomorrow = today
    assert store.get_bytes(keys.report_key(DAYS[-1])).startswith(b"\x89PNG")
