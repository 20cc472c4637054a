"""The desk day in Dagster, on real parts (local object store, the machine's Redis, the central store on SQLite):
the day's reconciliation processes what the live consumer missed and replays history; its checks; the
reconciliation sensor; the trading-hours freshness rule."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from ops_assets.desk.assets import desk_day_history
from ops_assets.desk.checks import stale_keys
from ops_assets.desk.files import processed_key, quarantine_key
from ops_assets.desk.partitions import DESK_TIMEZONE
from ops_assets.desk.reconcile import day_report
from ops_assets.desk.sensors import desk_reconciliation_sensor
from ops_assets.desk.settings import DeskSettings
from resources.cache import RedisCache, RedisUnavailableError
from resources.central_store import CentralStore
from resources.desk_history import CentralStoreDeskHistory
from resources.notifier import LocalOutboxNotifier
from resources.object_store import LocalObjectStore
from resources.sample_sources.actant import (
    SAMPLE_DESK_DAY,
    sample_eod_file,
    sample_malformed_file,
    sample_market_files,
    sample_sod_file,
)

pytestmark = pytest.mark.integration
DAY = SAMPLE_DESK_DAY.isoformat()


@pytest.fixture
def resources(tmp_path: Path) -> Iterator[dict]:
    cache = RedisCache(key_prefix=f"test:desk-day:{uuid.uuid4().hex[:12]}:")
    try:
        cache.ping()
    except RedisUnavailableError as exc:
        pytest.fail(str(exc))
    store = CentralStore(url=f"sqlite:///{tmp_path / 'central.db'}")
    yield {
        "object_store": LocalObjectStore(root=str(tmp_path / "bucket")),
        "desk_cache": cache,
        "desk_history": CentralStoreDeskHistory(store=store),
        "desk_settings": DeskSettings(),
        "notifier": LocalOutboxNotifier(outbox_path=str(tmp_path / "outbox.jsonl")),
    }
    client = cache.client()
    for key in list(client.scan_iter(match=f"{cache.key_prefix}*", count=1000)):
        client.delete(key)
    store.dispose()


def land_day(objects: LocalObjectStore) -> dict[str, list[str]]:
    files = {"market": sample_market_files()[:6], "eod": [sample_eod_file()], "sod": [sample_sod_file()]}
    files["bad"] = [sample_malformed_file("missing_column")]
    for group in files.values():
        for key, data in group:
            objects.put_bytes(key, data)
    return {name: [key for key, _ in group] for name, group in files.items()}


def test_the_day_processes_what_was_missed_and_its_checks_pass(resources: dict, tmp_path: Path) -> None:
    keys = land_day(resources["object_store"])

    result = dg.materialize([desk_day_history], resources=resources, partition_key=DAY)

    assert result.success
    evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(evaluations) == {"every_file_handled", "history_matches_files"}  # evaluated inside the asset
    objects = resources["object_store"]
    for key in keys["market"] + keys["eod"] + keys["sod"]:
        assert objects.exists(processed_key(key))
    assert objects.exists(quarantine_key(keys["bad"][0]))
    assert all(c.passed for c in result.get_asset_check_evaluations())
    metadata = result.asset_materializations_for_node("desk_day_history")[0].metadata
    assert metadata["processed_files"].value == 8
    assert list(metadata["quarantined"].value) == keys["bad"]
    assert "Desk file QUARANTINED" in (tmp_path / "outbox.jsonl").read_text()
    assert resources["desk_cache"].read_market("ZN")

    # A replay of the day (a backfill) writes nothing new and still matches.
    rows = resources["desk_history"].count_for_source("market", keys["market"][0])
    again = dg.materialize([desk_day_history], resources=resources, partition_key=DAY)
    assert again.success
    assert all(c.passed for c in again.get_asset_check_evaluations())
    assert resources["desk_history"].count_for_source("market", keys["market"][0]) == rows


def test_the_day_reads_and_parses_each_file_once(resources: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # The asset and its two checks share one report: every archived file is parsed once per run (by the replay),
    # not again for the report and again for each check.
    import ops_assets.desk.reconcile as reconcile

    keys = land_day(resources["object_store"])
    dg.materialize([desk_day_history], resources=resources, partition_key=DAY)  # archive everything first
    parsed: list[str] = []
    real_parse = reconcile.parse_file

    def counting_parse(kind: object, data: bytes, **kwargs: object) -> object:
        parsed.append(str(kind))
        return real_parse(kind, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reconcile, "parse_file", counting_parse)
    result = dg.materialize([desk_day_history], resources=resources, partition_key=DAY)
    assert result.success
    assert len(parsed) == len(keys["market"]) + len(keys["eod"]) + len(keys["sod"])
    assert len(result.get_asset_check_evaluations()) == 2


def test_the_day_deletes_expired_order_snapshot_rows(resources: dict) -> None:
    from resources.desk_history import WorkingOrder

    history = resources["desk_history"]
    order = WorkingOrder(order_id="100001", instrument="ZN", side="BUY", qty=5, status="WORKING")
    old = datetime.now(UTC) - timedelta(days=8)
    recent = datetime.now(UTC) - timedelta(days=1)
    history.write_order_snapshot([order], at=old, source_key="working-orders/old.json")
    history.write_order_snapshot([order], at=recent, source_key="working-orders/recent.json")

    result = dg.materialize([desk_day_history], resources=resources, partition_key=DAY)
    metadata = result.asset_materializations_for_node("desk_day_history")[0].metadata
    assert metadata["expired_order_rows_deleted"].value == 1
    assert history.count_for_source("orders", "working-orders/old.json") == 0
    assert history.count_for_source("orders", "working-orders/recent.json") == 1


def test_the_day_keeps_the_arrival_times_and_rebuilds_only_what_is_missing(resources: dict) -> None:
    import sqlalchemy as sa

    from ops_assets.desk.processing import process_file
    from resources.central_schema import desk_market_history

    objects, history = resources["object_store"], resources["desk_history"]
    (key, data), (other, other_data) = sample_market_files()[:2]
    landed_at = datetime(2026, 11, 20, 14, 35, 12, tzinfo=UTC)
    for k, d in ((key, data), (other, other_data)):
        objects.put_bytes(k, d)
        process_file(k, objects=objects, latest=resources["desk_cache"], history=history, arrived_at=landed_at)
    instrument = data.decode().splitlines()[1].split(",")[0]
    window = (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))

    def arrivals(source: str) -> set[datetime]:
        return {r.arrived_at for r in history.market_rows(instrument, *window) if r.source_key == source}

    assert arrivals(key) == {landed_at}
    rows = history.count_for_source("market", key)
    # One file's rows lost from the history (a restore, a bad migration): the day's run writes them again.
    with history.store.begin() as conn:
        conn.execute(sa.delete(desk_market_history).where(desk_market_history.c.source_key == other))
    assert history.count_for_source("market", other) == 0

    result = dg.materialize([desk_day_history], resources=resources, partition_key=DAY)

    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert arrivals(key) == {landed_at}  # complete: left untouched, still when the file landed
    assert history.count_for_source("market", key) == rows
    assert history.count_for_source("market", other) > 0  # rebuilt


def test_the_report_uses_the_replays_row_counts(resources: dict) -> None:
    keys = land_day(resources["object_store"])
    objects, history = resources["object_store"], resources["desk_history"]
    dg.materialize([desk_day_history], resources=resources, partition_key=DAY)
    first = keys["market"][0]
    day = date.fromisoformat(DAY)
    honest = day_report(day, objects=objects, history=history)
    assert honest.mismatched == {}
    rows = honest.processed[first]
    # Counts handed over are trusted (not re-parsed): a wrong one shows up as a mismatch of that file only.
    told = day_report(day, objects=objects, history=history, file_rows={processed_key(first): rows + 1})
    assert told.mismatched == {first: (rows + 1, rows)}


def test_the_sensor_asks_for_a_run_when_a_file_waits_too_long(resources: dict, tmp_path: Path) -> None:
    objects = resources["object_store"]
    today = datetime.now(ZoneInfo(DESK_TIMEZONE)).date()
    key, data = sample_market_files(today)[0]
    objects.put_bytes(key, data)

    def tick() -> object:
        with dg.instance_for_test() as instance:
            context = dg.build_sensor_context(
                instance=instance,
                resources={"object_store": objects, "desk_settings": resources["desk_settings"]},
            )
            return desk_reconciliation_sensor(context)

    assert isinstance(tick(), dg.SkipReason)  # just landed: the live consumer's
    old = (datetime.now() - timedelta(minutes=5)).timestamp()
    os.utime(tmp_path / "bucket" / key, (old, old))
    requests = tick().run_requests
    assert [r.partition_key for r in requests] == [
        key.split("/")[1] + "-" + key.split("/")[2] + "-" + key.split("/")[3]
    ]


def test_freshness_is_judged_in_trading_hours_only() -> None:
    settings = DeskSettings()
    chicago_noon = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # Friday 12:00 Chicago
    assert stale_keys(chicago_noon, 30, 40, settings) == []
    assert stale_keys(chicago_noon, 400, None, settings) == ["market data 400 s old", "TT orders never written"]
    assert stale_keys(datetime(2026, 11, 21, 18, 0, tzinfo=UTC), None, None, settings) is None  # Saturday
    assert stale_keys(datetime(2026, 11, 20, 23, 0, tzinfo=UTC), None, None, settings) is None  # 17:00 Chicago
