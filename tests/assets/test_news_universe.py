"""News is matched against the fundamentals' ETF holdings: the two domains meet through the `etf_holdings`
asset key (its materialization's `object_key`), not an import. Run on the sample holdings (SQLite store)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from ops_assets.fundamentals.assets import etf_holdings
from ops_assets.news.assets import classified_events, newest_holdings
from ops_assets.news.settings import NewsSettings
from ops_assets.partitions import daily_partitions
from resources.central_schema import inbound_events_classified, inbound_events_raw
from resources.central_store import CentralStore
from resources.object_store import LocalObjectStore
from tests.assets.conftest import PARTITION

TODAY = daily_partitions.get_partition_key_for_timestamp(datetime.now(UTC).timestamp())
# Names the company as the ETF's description does ("HWMZ INDUSTRIES INC"), never its symbol.
HEADLINE = "Hwmz Industries recalls 40,000 units after a safety review"


def store_with_one_item(data_dir: Path) -> CentralStore:
    store = CentralStore(url=f"sqlite:///{data_dir / 'universe.db'}")
    now = datetime.now(UTC)
    store.upsert(
        inbound_events_raw,
        [
            {
                "event_uid": "uid-hwmz-recall",
                "feed_name": "wire",
                "source_url": "https://wire.example.com/rss",
                "title": HEADLINE,
                "link": "https://wire.example.com/hwmz-recall",
                "summary": "",
                "published_at": now,
                "ingested_at": now,
                "processed_at": None,
                "raw": {},
            }
        ],
        key=["event_uid"],
    )
    return store


def resources(store: CentralStore) -> dict:
    from ops_assets.environments import local_resources

    found = local_resources()
    found["central_store"] = store
    # As in aws: no configured names, the holdings alone are the universe.
    found["news_settings"] = NewsSettings(feeds={}, company_names={})
    return found


def test_holdings_are_the_universe(local_env: Path, instance: dg.DagsterInstance) -> None:
    store = store_with_one_item(local_env)
    res = resources(store)
    assert dg.materialize([etf_holdings], partition_key=PARTITION, resources=res, instance=instance).success

    result = dg.materialize([classified_events], partition_key=TODAY, resources=res, instance=instance)

    assert result.success
    with store.connect() as conn:
        tickers = conn.execute(sa.select(inbound_events_classified.c.tickers)).scalar_one()
    assert tickers == ["HWMZ"]
    metadata = result.asset_materializations_for_node("classified_events")[0].metadata
    assert metadata["universe"].value == f"10 tickers (etf_holdings {PARTITION})"
    # The local environment's resource classified with the lexicon, and the metadata says that, not FinBERT.
    assert metadata["sentiment_backend"].value.startswith("lexicon: VADER (vaderSentiment ")
    assert "model_path" not in metadata


def test_no_holdings_and_no_names_stops_with_a_reason_and_classifies_nothing(
    local_env: Path, instance: dg.DagsterInstance
) -> None:
    store = store_with_one_item(local_env)

    result = dg.materialize(
        [classified_events], partition_key=TODAY, resources=resources(store), instance=instance, raise_on_error=False
    )

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "etf_holdings has never been materialized" in str(failure.event_specific_data.error.message)
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(inbound_events_classified)).scalar_one() == 0


def holdings_week(instance: dg.DagsterInstance, store: LocalObjectStore, week: str, symbol: str | None) -> None:
    """Record an etf_holdings materialization of ``week`` (``symbol=None``: one made before object_key existed)."""
    metadata = {}
    if symbol is not None:
        key = f"fundamentals/holdings/{week}.json"
        store.put_json(key, {"holdings": [{"symbol": symbol, "description": f"{symbol} HOLDINGS INC"}]})
        metadata["object_key"] = key
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="etf_holdings", partition=week, metadata=metadata)
    )


def test_the_newest_week_wins_even_when_an_older_one_was_backfilled_later(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    store = LocalObjectStore(root=str(tmp_path / "objects"))
    holdings_week(instance, store, "2026-11-22", "NEWEST")
    for day in range(1, 26):  # 25 older weeks re-materialized afterwards (a backfill)
        holdings_week(instance, store, f"2025-{(day % 12) + 1:02d}-{(day % 27) + 1:02d}", "OLD")

    holdings, week, problems = newest_holdings(instance, store)

    assert (week, [h["symbol"] for h in holdings], problems) == ("2026-11-22", ["NEWEST"], [])


def test_an_unreadable_newest_week_falls_back_and_says_why(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    store = LocalObjectStore(root=str(tmp_path / "objects"))
    holdings_week(instance, store, "2026-11-08", "GOOD")
    holdings_week(instance, store, "2026-11-15", "GONE")
    store.delete("fundamentals/holdings/2026-11-15.json")
    holdings_week(instance, store, "2026-11-22", None)

    holdings, week, problems = newest_holdings(instance, store)

    assert (week, [h["symbol"] for h in holdings]) == ("2026-11-08", ["GOOD"])
    assert problems == [
        "week 2026-11-22 was materialized before it recorded object_key (re-materialize it)",
        "week 2026-11-15's holdings object fundamentals/holdings/2026-11-15.json is gone",
    ]
