"""Materializing a weekly partition end to end on the local environment, against the sample server."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ops_assets.fundamentals import keys
from ops_assets.fundamentals.daily import ARTIFACT_SCHEMA
from resources.sample_sources import alpha_vantage as sample
from resources.sample_sources.server import AlphaVantageSampleServer
from tests.assets.conftest import PARTITION, TEST_KEY, materialize_week

AS_OF = date.fromisoformat(PARTITION)


def artifact_path(data_dir: Path, as_of: date = AS_OF) -> Path:
    return data_dir / "object-store" / keys.artifact_key(as_of)


def materialization_metadata(result: dg.ExecuteInJobResult, asset: str) -> dict[str, object]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_weekly_partition_publishes_the_artifact(local_av: AlphaVantageSampleServer, local_env: Path, instance) -> None:
    result = materialize_week(instance)
    assert result.success

    path = artifact_path(local_env)
    assert path.is_file()
    table = pq.read_table(path)
    assert table.schema.remove_metadata().equals(ARTIFACT_SCHEMA.remove_metadata())
    frame = table.to_pandas()
    data = sample.SampleAlphaVantageData()
    usable = sorted(set(data.tickers) - {sample.ERROR_TICKER})
    assert sorted(frame["ticker"].unique()) == usable
    assert not frame.duplicated(["ticker", "date"]).any()
    assert frame["date"].max() <= AS_OF

    metadata = materialization_metadata(result, "ttm_per_share")
    assert metadata["artifact_key"] == f"ttm-artifacts/{PARTITION}/ttm_per_share_financial_artifact.parquet"
    assert metadata["rows"] == len(frame)
    # The ticker Alpha Vantage refuses is reported, not fatal.
    assert sample.ERROR_TICKER in metadata["failed_tickers"]
    assert "Invalid API call" in metadata["failed_tickers"][sample.ERROR_TICKER]
    # Fetched over HTTP with a key (the sample server stands in for the live service): said so, host only.
    assert metadata["source"] == "alpha_vantage at http://127.0.0.1"
    # The coverage table agrees with the artifact: every ticker, with its number of trading days.
    for ticker, days in frame.groupby("ticker").size().items():
        assert f"| {ticker} | {days} | {frame.loc[frame.ticker == ticker, 'date'].min()} |" in metadata["coverage"]
    assert 0 < metadata["quarter_coverage_pct"] <= 100
    rows = [line.strip("| ").split(" | ") for line in metadata["coverage"].splitlines()[2:]]
    # Every ticker has quarters with the key TTM sums (fields it never reports do not count against it).
    assert all(int(row[5]) > 0 for row in rows), metadata["coverage"]
    assert metadata["quarters_by_year"].startswith("| ticker | 20")

    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) == {
        "columns_and_types",
        "unique_ticker_date",
        "no_value_before_reported_date",
        "plausible_values",
        "ttm_coverage_per_ticker",
    }
    assert all(c.passed for c in checks.values())


def test_rematerializing_a_partition_gives_the_same_artifact(local_av, local_env: Path, instance) -> None:
    assert materialize_week(instance).success
    first = hashlib.sha256(artifact_path(local_env).read_bytes()).hexdigest()
    requests_after_first = len(local_av.requests)
    assert materialize_week(instance).success
    assert hashlib.sha256(artifact_path(local_env).read_bytes()).hexdigest() == first
    # The second run re-fetched no statements: the stored copies are current.
    second_run = local_av.requests[requests_after_first:]
    assert not [r for r in second_run if r.function in ("INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW")]


def test_refresh_requests_per_ticker(local_av, local_env: Path, instance) -> None:
    assert materialize_week(instance).success
    per_ticker_full = _requests_per_symbol(local_av.requests)
    assert set(per_ticker_full.values()) == {6}
    start = len(local_av.requests)
    assert materialize_week(instance).success
    per_ticker_quiet = _requests_per_symbol(local_av.requests[start:])
    assert set(per_ticker_quiet.values()) == {3}


def _requests_per_symbol(requests: list) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in requests:
        if request.function != "ETF_PROFILE" and request.symbol != sample.ERROR_TICKER:
            counts[request.symbol] = counts.get(request.symbol, 0) + 1
    return counts


def test_bad_key_fails_the_run_clearly_and_publishes_nothing(local_av, local_env: Path, instance, monkeypatch) -> None:
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "bad-key")
    result = materialize_week(instance)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = str(failure.event_specific_data.user_failure_data or failure.event_specific_data.error)
    assert "rejected the API key as invalid or missing" in message
    assert not artifact_path(local_env).exists()
    assert not (local_env / "object-store" / "raw" / "alpha-vantage" / "EARNINGS").exists()


def test_key_never_reaches_logs_or_metadata(local_av, local_env: Path, instance) -> None:
    result = materialize_week(instance)
    assert result.success
    records = instance.all_logs(result.run_id)
    assert records
    for record in records:
        assert TEST_KEY not in str(record)


def test_daily_quota_keeps_stored_data_and_publishes(local_env: Path, instance, monkeypatch) -> None:
    # First week: everything fetched. Second week: the quota runs out after a few requests.
    with AlphaVantageSampleServer() as server:
        monkeypatch.setenv("OPS_ALPHA_VANTAGE_BASE_URL", server.url)
        monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", TEST_KEY)
        monkeypatch.setenv("OPS_ALPHA_VANTAGE_REQUESTS_PER_MINUTE", "60000")
        assert materialize_week(instance, partition="2026-11-15").success
    with AlphaVantageSampleServer(daily_limit=5) as server:
        monkeypatch.setenv("OPS_ALPHA_VANTAGE_BASE_URL", server.url)
        result = materialize_week(instance, partition="2026-11-22")
    assert result.success
    metadata = materialization_metadata(result, "ttm_per_share")
    not_fetched = [t for t, reason in metadata["failed_tickers"].items() if "Using the copy stored earlier." in reason]
    assert not_fetched, metadata["failed_tickers"]
    frame = pd.read_parquet(artifact_path(local_env, date(2026, 11, 22)), columns=["ticker"])
    assert set(not_fetched) <= set(frame["ticker"])


@pytest.mark.parametrize("etf", ["IWB", "SPY"])
def test_other_etfs(local_av, local_env: Path, instance, etf: str) -> None:
    result = materialize_week(instance, etf_symbol=etf, max_tickers=3)
    assert result.success
    assert materialization_metadata(result, "etf_holdings")["etf_symbol"] == etf
    assert materialization_metadata(result, "etf_holdings")["tickers"] == 3


def test_the_sample_says_it_built_the_artifact(local_env: Path, instance) -> None:
    """Without a key, local runs on the bundled sample; the metadata says so next to the ETF."""
    result = materialize_week(instance, max_tickers=2)
    assert result.success
    for asset in ("etf_holdings", "ttm_per_share"):
        metadata = materialization_metadata(result, asset)
        assert (metadata["etf_symbol"], metadata["source"]) == ("QQQ", "sample (bundled offline data)")
