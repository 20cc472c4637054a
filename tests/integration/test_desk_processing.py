"""The seed's test matrix for landed desk files, on real parts: the local object store, the machine's Redis, the
central store (PostgreSQL and SQLite) as the history. Market CSV -> Redis latest + history + archive; EOD/SOD ->
history; malformed -> quarantined with its reason and an alert, nothing partial; a burst of files -> each once;
duplicates -> no duplicate history; Redis down -> a clear error, nothing lost, caught up when back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ops_assets.desk.files import processed_key, quarantine_key, quarantine_reason_key
from ops_assets.desk.processing import process_file
from resources.cache import RedisCache, RedisUnavailableError
from resources.central_store import CentralStore
from resources.desk_history import CentralStoreDeskHistory
from resources.object_store import LocalObjectStore
from resources.sample_sources.actant import (
    sample_eod_file,
    sample_malformed_file,
    sample_market_file,
    sample_market_files,
    sample_sod_file,
)
from tests.conftest import free_port

pytestmark = pytest.mark.integration

ARRIVED = datetime(2026, 11, 20, 16, 40, tzinfo=UTC)


@pytest.fixture
def parts(tmp_path: Path, store: CentralStore, cache: RedisCache) -> dict:
    alerts: list[tuple[str, str]] = []
    return {
        "objects": LocalObjectStore(root=str(tmp_path / "bucket")),
        "latest": cache,
        "history": CentralStoreDeskHistory(store=store),
        "alerts": alerts,
    }


def land(parts: dict, key: str, data: bytes) -> None:
    parts["objects"].put_bytes(key, data)


def process(parts: dict, key: str):
    return process_file(
        key,
        objects=parts["objects"],
        latest=parts["latest"],
        history=parts["history"],
        arrived_at=ARRIVED,
        alert=lambda subject, body: parts["alerts"].append((subject, body)),
    )


def test_a_market_file_reaches_redis_and_history_and_is_archived(parts: dict) -> None:
    key, data = sample_market_file("ZN")
    land(parts, key, data)

    outcome = process(parts, key)

    assert outcome.outcome == "processed"
    assert outcome.rows > 0
    latest = parts["latest"].read_market("ZN")
    assert latest["price"]
    assert int(latest["arrived"]) == int(ARRIVED.timestamp())
    assert int(latest["timestamp"]) < int(ARRIVED.timestamp())  # the data's own time, not processing time
    assert parts["history"].count_for_source("market", key) == outcome.rows
    assert parts["objects"].exists(processed_key(key))
    assert not parts["objects"].exists(key)


def test_eod_and_sod_go_to_history(parts: dict) -> None:
    for key, data in (sample_eod_file(), sample_sod_file()):
        land(parts, key, data)
        outcome = process(parts, key)
        assert outcome.outcome == "processed"
        kind = "eod" if key.startswith("eod/") else "sod"
        assert parts["history"].count_for_source(kind, key) == outcome.rows > 0


def test_a_malformed_file_is_quarantined_with_its_reason_and_nothing_partial(parts: dict) -> None:
    key, data = sample_malformed_file("nan_price")
    land(parts, key, data)

    outcome = process(parts, key)

    assert outcome.outcome == "quarantined"
    note = json.loads(parts["objects"].get_bytes(quarantine_reason_key(key)))
    assert note["reason"] == outcome.reason
    assert "price" in outcome.reason.lower()
    assert parts["objects"].get_bytes(quarantine_key(key)) == data
    assert not parts["objects"].exists(key)
    assert parts["history"].count_for_source("market", key) == 0
    assert [subject for subject, _ in parts["alerts"]] == [f"Desk file QUARANTINED - {key}"]


def test_a_burst_of_files_is_processed_once_each_and_duplicates_add_nothing(parts: dict) -> None:
    files = sample_market_files()[:50]
    for key, data in files:
        land(parts, key, data)
    first = [process(parts, key) for key, _ in files]
    assert {o.outcome for o in first} == {"processed"}
    rows = {key: parts["history"].count_for_source("market", key) for key, _ in files}

    # The same objects land again (a duplicate S3 event after a re-upload of identical bytes).
    for key, data in files[:10]:
        land(parts, key, data)
    again = [process(parts, key) for key, _ in files[:10]]

    assert {o.outcome for o in again} == {"duplicate"}
    assert {key: parts["history"].count_for_source("market", key) for key, _ in files} == rows


def test_redis_down_is_a_clear_error_and_nothing_is_lost(parts: dict) -> None:
    key, data = sample_market_file("ES")
    land(parts, key, data)
    down = {**parts, "latest": RedisCache(port=free_port(), key_prefix=parts["latest"].key_prefix)}

    with pytest.raises(RedisUnavailableError, match="redis-server"):
        process(down, key)
    assert parts["objects"].exists(key)  # still where it landed: the next attempt picks it up
    assert not parts["objects"].exists(processed_key(key))

    assert process(parts, key).outcome == "processed"  # Redis back: caught up
    assert parts["latest"].read_market("ES")


def test_a_repeated_event_after_the_file_was_archived_is_a_duplicate_not_an_error(parts: dict) -> None:
    # SQS delivers S3 events at least once: the repeat often comes after the first delivery archived the file.
    key, data = sample_market_file("ZN")
    bad_key, bad = sample_malformed_file("bad_timestamp")
    land(parts, key, data)
    land(parts, bad_key, bad)
    assert process(parts, key).outcome == "processed"
    assert process(parts, bad_key).outcome == "quarantined"
    rows = parts["history"].count_for_source("market", key)

    again = process(parts, key)
    assert (again.outcome, again.kind) == ("duplicate", "market")
    assert processed_key(key) in (again.reason or "")
    repeat_bad = process(parts, bad_key)
    assert repeat_bad.outcome == "duplicate"
    assert quarantine_key(bad_key) in (repeat_bad.reason or "")
    assert parts["history"].count_for_source("market", key) == rows
    assert len(parts["alerts"]) == 1  # the quarantine's, not again

    # Neither archived nor quarantined (somebody deleted it): ignored, with the reason, no exception.
    ghost = "market-data/2026/11/20/GE_XCME.ZF_20261120_101500.csv"
    gone = process(parts, ghost)
    assert gone.outcome == "ignored"
    assert "no longer at its landing key" in (gone.reason or "")


def test_a_failing_alert_never_stops_the_quarantine(parts: dict) -> None:
    key, data = sample_malformed_file("missing_column")
    land(parts, key, data)

    def notifier_down(subject: str, body: str) -> None:
        raise ConnectionError("SNS unreachable")

    outcome = process_file(
        key,
        objects=parts["objects"],
        latest=parts["latest"],
        history=parts["history"],
        arrived_at=ARRIVED,
        alert=notifier_down,
    )
    assert outcome.outcome == "quarantined"
    assert parts["objects"].exists(quarantine_reason_key(key))
    assert not parts["objects"].exists(key)
