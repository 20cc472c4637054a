"""daily_prices and price_features materialized with real local parts: the sample source, Yahoo's chart API
played by a loopback server, the local object store; checks blocking the features when the data is bad."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from ops_assets.forecasting import keys
from ops_assets.forecasting.assets import daily_prices, price_features
from ops_assets.forecasting.checks import bars_consistent, jumps_explained, no_frozen_bars, sessions_complete
from ops_assets.forecasting.ingest import ingest_ticker, read_stored
from ops_assets.forecasting.settings import ForecastingSettings
from ops_assets.forecasting.storage import frame_from_parquet, prices_to_parquet
from ops_assets.forecasting.trading_calendar import sessions
from resources.object_store import LocalObjectStore
from resources.price_source import DailyBar, PriceHistory, YahooChartPriceSource
from resources.sample_sources.prices import SAMPLE_PRICES_END, SAMPLE_UNKNOWN_TICKER, YahooChartSampleServer
from resources.sample_sources.resources import SamplePriceSource

DAY = SAMPLE_PRICES_END.isoformat()
EVERYTHING = [daily_prices, price_features, sessions_complete, bars_consistent, no_frozen_bars, jumps_explained]


def resources(data_dir: Path, source: object, tickers: list[str]) -> dict:
    return {
        "object_store": LocalObjectStore(root=str(data_dir / "objects")),
        "price_source": source,
        "forecasting_settings": ForecastingSettings(tickers=tickers, history_start_date="2024-01-02"),
    }


def run(res: dict, **kwargs: object) -> dg.ExecuteInJobResult:
    return dg.materialize(EVERYTHING, resources=res, raise_on_error=False, **kwargs)


@pytest.fixture
def yahoo() -> Iterator[YahooChartSampleServer]:
    with YahooChartSampleServer() as server:
        yield server


def test_a_session_is_fetched_checked_and_featurized(tmp_path: Path) -> None:
    res = resources(tmp_path, SamplePriceSource(), ["AMZN"])
    result = run(res, partition_key=DAY)

    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    prices, _ = read_stored(res["object_store"], "AMZN")
    assert prices["day"].tolist() == sessions(date(2024, 1, 2), SAMPLE_PRICES_END)
    features = frame_from_parquet(res["object_store"].get_bytes(keys.features_key("AMZN")))
    assert features["day"].max() == SAMPLE_PRICES_END
    raw = keys.raw_key("AMZN", SAMPLE_PRICES_END, "sample", date(2024, 1, 2), SAMPLE_PRICES_END)
    assert res["object_store"].exists(raw)
    assert "year=2026/month=11/day=27" in raw


def test_a_backfill_of_a_range_is_one_request_per_ticker(tmp_path: Path, yahoo: YahooChartSampleServer) -> None:
    res = resources(
        tmp_path, YahooChartPriceSource(base_url=yahoo.base_url, backoff_initial_seconds=0.01), ["AMZN", "MSFT"]
    )
    first, last = "2026-10-01", DAY
    result = run(
        res,
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )

    assert result.success
    assert sorted(r.ticker for r in yahoo.requests) == ["AMZN", "MSFT"]
    for ticker in ("AMZN", "MSFT"):
        prices, _ = read_stored(res["object_store"], ticker)
        assert prices["day"].max() == SAMPLE_PRICES_END


def test_an_unknown_ticker_fails_alone(tmp_path: Path) -> None:
    res = resources(tmp_path, SamplePriceSource(), ["AMZN", SAMPLE_UNKNOWN_TICKER])
    result = run(res, partition_key=DAY)

    prices = result.asset_materializations_for_node("daily_prices")[0].metadata
    assert SAMPLE_UNKNOWN_TICKER in prices["failed_tickers"].value
    assert "AMZN" in prices["tickers"].value
    # The unknown ticker is reported by daily_prices; it does not block AMZN's features.
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert res["object_store"].exists(keys.features_key("AMZN"))
    assert not res["object_store"].exists(keys.features_key(SAMPLE_UNKNOWN_TICKER))


def test_a_blocking_check_stops_the_features(tmp_path: Path) -> None:
    res = resources(tmp_path, SamplePriceSource(), ["AMZN"])
    assert run(res, partition_key="2026-11-25").success
    store = res["object_store"]
    prices, splits = read_stored(store, "AMZN")
    # An impossible bar 30 sessions back: outside what the next run fetches again, inside the checked window.
    prices.loc[prices.index[-30], "low"] = prices["high"].iloc[-30] * 2
    store.put_bytes(keys.prices_key("AMZN"), prices_to_parquet(prices, splits))
    before = store.get_bytes(keys.features_key("AMZN"))

    result = run(res, partition_key="2026-11-25")
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["bars_consistent"].passed
    assert result.asset_materializations_for_node("price_features") == []  # blocked
    assert store.get_bytes(keys.features_key("AMZN")) == before


def test_a_session_that_has_not_closed_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops_assets.forecasting import assets as forecasting_assets
    from ops_assets.forecasting.trading_calendar import session_close

    res = resources(tmp_path, SamplePriceSource(), ["AMZN"])
    day = date(2026, 11, 24)  # a full session: closes 16:00 New York
    monkeypatch.setattr(forecasting_assets, "utc_now", lambda: session_close(day) - timedelta(hours=2))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [daily_prices], resources=res, partition_key=day.isoformat(), raise_on_error=False, instance=instance
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    message = failure.event_specific_data.error.message
    assert "closes at 16:00 New York time; its prices are not final before then" in message


class ScriptedSource:
    """A provider whose answers the test writes: the history it serves can change between calls."""

    source = "scripted"
    split_adjusted = False

    def __init__(self, closes: dict[date, float]) -> None:
        self.closes = closes

    def daily_history(self, ticker: str, start: date, end: date) -> PriceHistory:
        bars = tuple(
            DailyBar(day, close, close * 1.01, close * 0.99, close, 1000.0)
            for day, close in sorted(self.closes.items())
            if start <= day <= end
        )
        return PriceHistory(ticker, bars, (), self.source, b"{}")


def test_a_restatement_is_archived_and_reported_not_silently_overwritten(tmp_path: Path) -> None:
    store = LocalObjectStore(root=str(tmp_path / "objects"))
    days = sessions(date(2026, 11, 2), date(2026, 11, 13))
    source = ScriptedSource({d: 100.0 + i for i, d in enumerate(days)})
    ingest_ticker(store, source, "ACME", days[0], days[-1], refetch=5, history_start=days[0])
    source.closes[days[-3]] = 50.0  # the provider restates one stored day

    outcome = ingest_ticker(store, source, "ACME", days[-1], days[-1], refetch=5, history_start=days[0])

    assert outcome.report.restated_days == [days[-3]]
    superseded = list(store.list("forecasting/prices/_superseded/ACME/"))
    assert len(superseded) == 1
    old = frame_from_parquet(store.get_bytes(superseded[0].key))
    assert old.loc[old["day"] == days[-3], "close"].item() == 100.0 + len(days) - 3
    assert read_stored(store, "ACME")[0].loc[lambda f: f["day"] == days[-3], "close"].item() == 50.0


def test_re_running_an_old_partition_keeps_the_whole_feature_history(tmp_path: Path) -> None:
    res = resources(tmp_path, SamplePriceSource(), ["AMZN"])
    assert run(res, partition_key=DAY).success
    assert run(res, partition_key="2026-11-13").success

    features = frame_from_parquet(res["object_store"].get_bytes(keys.features_key("AMZN")))
    assert features["day"].max() == SAMPLE_PRICES_END
