"""Central store against real databases: the machine's PostgreSQL and a SQLite file. No mocks."""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from resources.central_schema import (
    TABLES,
    dispatch_executions,
    dispatch_recommendations,
    feed_state,
    inbound_events_classified,
    inbound_events_raw,
    lane_telemetry,
    metadata,
)
from resources.central_store import CentralStore, CentralStoreUnavailableError
from tests.conftest import pg_url

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def count(store: CentralStore, table: sa.Table) -> int:
    with store.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def raw_event(uid: str, title: str = "Headline", **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "event_uid": uid,
        "feed_name": "reuters-markets",
        "source_url": "https://feeds.example.com/markets.rss",
        "title": title,
        "link": f"https://example.com/{uid}",
        "summary": "Summary",
        "published_at": T0,
        "ingested_at": T0 + timedelta(minutes=1),
        "raw": {"guid": uid, "tags": ["markets"]},
    }
    row.update(extra)
    return row


def bar(ticker: str, minutes: int, close: float = 100.0) -> dict[str, object]:
    return {
        "ticker": ticker,
        "ts": T0 + timedelta(minutes=minutes),
        "open": close - 1,
        "high": close + 1,
        "low": close - 2,
        "close": close,
        "volume": 1000.0,
        "source": "sample",
        "ingested_at": T0 + timedelta(minutes=minutes + 5),
    }


# ---------------------------------------------------------------------------------------------------------------
# Migrations
# ---------------------------------------------------------------------------------------------------------------


def test_migrations_from_empty_database(store_url: str) -> None:
    store = CentralStore(url=store_url)
    assert store.current_revision() is None

    assert store.ensure_schema() == ["0001", "0002", "0003"]
    assert store.current_revision() == "0003"
    with store.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {t.name for t in TABLES} | {"alembic_version"} == tables

    # Already current: nothing applied, neither by this instance nor by a new one (another process).
    assert store.ensure_schema() == []
    other = CentralStore(url=store_url)
    assert other.ensure_schema() == []
    store.dispose()
    other.dispose()


def test_migrated_schema_matches_the_metadata(store: CentralStore) -> None:
    store.ensure_schema()
    with store.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []

        # The comparison does see differences: a metadata copy with one more column and one more table.
        changed = sa.MetaData()
        for table in TABLES:
            table.to_metadata(changed)
        changed.tables["lane_telemetry"].append_column(sa.Column("vwap", sa.Float))
        sa.Table("not_migrated", changed, sa.Column("id", sa.Integer, primary_key=True))
        diffs = compare_metadata(context, changed)
    assert {d[0] for d in diffs} == {"add_column", "add_table"}


def test_first_engine_use_migrates(store: CentralStore) -> None:
    engine = store.engine()
    assert engine is store.engine()
    assert set(sa.inspect(engine).get_table_names()) >= {t.name for t in TABLES}
    assert store.current_revision() == "0003"


def _ensure_schema_in_process(url: str, barrier: object, results: object) -> None:
    store = CentralStore(url=url)
    barrier.wait(timeout=60)  # type: ignore[attr-defined]
    try:
        results.put(("ok", store.ensure_schema()))  # type: ignore[attr-defined]
    except Exception:
        results.put(("error", traceback.format_exc()))  # type: ignore[attr-defined]
    finally:
        store.dispose()


def test_concurrent_ensure_schema_in_processes_migrates_once(store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = 4
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_ensure_schema_in_process, args=(store_url, barrier, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    errors = [detail for status, detail in outcomes if status != "ok"]
    assert errors == []
    applied = sorted(detail for _, detail in outcomes)
    assert applied == [[], [], [], ["0001", "0002", "0003"]]

    store = CentralStore(url=store_url)
    with store.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == ["0003"]
    store.dispose()


def test_concurrent_ensure_schema_in_threads_migrates_once(store_url: str) -> None:
    workers = 4
    barrier = threading.Barrier(workers)
    results: list[object] = []

    def run() -> None:
        store = CentralStore(url=store_url)
        barrier.wait(timeout=30)
        try:
            results.append(store.ensure_schema())
        except Exception as exc:
            results.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r for r in results if not isinstance(r, list)] == []
    assert sorted(results, key=len) == [[], [], [], ["0001", "0002", "0003"]]


# ---------------------------------------------------------------------------------------------------------------
# Upserts
# ---------------------------------------------------------------------------------------------------------------


def test_upsert_do_nothing_keeps_the_first_copy(store: CentralStore) -> None:
    rows = [raw_event("a", "first"), raw_event("b"), raw_event("a", "duplicate in batch")]
    assert store.upsert(inbound_events_raw, rows, key=["event_uid"]) == 2
    assert store.upsert(inbound_events_raw, [raw_event("a", "again"), raw_event("c")], key=["event_uid"]) == 1
    assert store.upsert(inbound_events_raw, [raw_event("a", "again")], key=["event_uid"]) == 0

    assert count(store, inbound_events_raw) == 3
    with store.connect() as conn:
        row = conn.execute(sa.select(inbound_events_raw).where(inbound_events_raw.c.event_uid == "a")).one()
    assert row.title == "first"
    assert row.raw == {"guid": "a", "tags": ["markets"]}
    assert row.published_at == T0
    assert row.published_at.tzinfo is not None
    assert row.processed_at is None


def test_upsert_many_rows_in_several_batches(store: CentralStore) -> None:
    rows = [bar("SPY", 5 * i) for i in range(2_500)]
    assert store.upsert(lane_telemetry, rows, key=["ticker", "ts"], batch_size=1_000) == 2_500
    assert store.upsert(lane_telemetry, rows, key=["ticker", "ts"], batch_size=1_000) == 0
    assert count(store, lane_telemetry) == 2_500


def test_upsert_do_update_overwrites_only_the_update_columns(store: CentralStore) -> None:
    first = {
        "feed_name": "reuters",
        "url": "https://feeds.example.com/a.rss",
        "etag": '"v1"',
        "last_status": "ok",
        "items_seen": 10,
        "last_polled_at": T0,
    }
    assert store.upsert(feed_state, [first], key=["feed_name"], update=["etag", "last_status", "last_polled_at"]) == 1
    second = {
        "feed_name": "reuters",
        "url": "https://feeds.example.com/CHANGED.rss",
        "etag": '"v2"',
        "last_status": "not_modified",
        "items_seen": 99,
        "last_polled_at": T0 + timedelta(minutes=1),
    }
    assert store.upsert(feed_state, [second], key=["feed_name"], update=["etag", "last_status", "last_polled_at"]) == 1

    with store.connect() as conn:
        row = conn.execute(sa.select(feed_state)).one()
    assert (row.etag, row.last_status, row.last_polled_at) == ('"v2"', "not_modified", T0 + timedelta(minutes=1))
    assert (row.url, row.items_seen, row.consecutive_failures) == ("https://feeds.example.com/a.rss", 10, 0)


def test_upsert_do_update_with_repeated_keys_keeps_the_last(store: CentralStore) -> None:
    rows = [bar("SPY", 0, close=100.0), bar("SPY", 0, close=101.0), bar("SPY", 0, close=102.0)]
    store.upsert(lane_telemetry, rows, key=["ticker", "ts"], update=["close"])
    with store.connect() as conn:
        assert conn.execute(sa.select(lane_telemetry.c.close)).scalar_one() == 102.0


def test_a_batch_failing_midway_writes_nothing(store: CentralStore) -> None:
    rows = [raw_event(f"ok-{i}") for i in range(30)]
    rows[25]["title"] = None  # NOT NULL violation, in the third statement
    with pytest.raises(IntegrityError):
        store.upsert(inbound_events_raw, rows, key=["event_uid"], batch_size=10)
    assert count(store, inbound_events_raw) == 0


def test_upsert_joins_the_callers_transaction(store: CentralStore) -> None:
    def upsert_then_fail() -> None:
        with store.begin() as conn:
            assert store.upsert(inbound_events_raw, [raw_event("x")], key=["event_uid"], conn=conn) == 1
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        upsert_then_fail()
    assert count(store, inbound_events_raw) == 0


def test_upsert_rejects_rows_with_different_columns(store: CentralStore) -> None:
    rows = [raw_event("a"), {k: v for k, v in raw_event("b").items() if k != "summary"}]
    with pytest.raises(ValueError, match="same columns"):
        store.upsert(inbound_events_raw, rows, key=["event_uid"])
    with pytest.raises(ValueError, match="not in table"):
        store.upsert(inbound_events_raw, [raw_event("a")], key=["nope"])
    assert store.upsert(inbound_events_raw, [], key=["event_uid"]) == 0


def test_lane_telemetry_upsert_is_idempotent_and_stores_utc(store: CentralStore) -> None:
    bars = [bar("SPY", 0), bar("SPY", 5), bar("QQQ", 0)]
    # The same instant written in another time zone is the same bar.
    eastern = dict(bar("SPY", 5), ts=(T0 + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=-5))))
    assert store.upsert(lane_telemetry, bars, key=["ticker", "ts"]) == 3
    assert store.upsert(lane_telemetry, [*bars, eastern], key=["ticker", "ts"]) == 0
    assert count(store, lane_telemetry) == 3

    revised = dict(bar("SPY", 5), close=123.0)
    assert store.upsert(lane_telemetry, [revised], key=["ticker", "ts"], update=["close", "ingested_at"]) == 1
    with store.connect() as conn:
        rows = conn.execute(sa.select(lane_telemetry).order_by(lane_telemetry.c.ticker, lane_telemetry.c.ts)).all()
    assert [(r.ticker, r.ts, r.close) for r in rows] == [
        ("QQQ", T0, 100.0),
        ("SPY", T0, 100.0),
        ("SPY", T0 + timedelta(minutes=5), 123.0),
    ]
    assert all(r.ts.utcoffset() == timedelta(0) for r in rows)


def _recommendation(fingerprint: str) -> dict[str, object]:
    return {
        "ticker": "SPY",
        "created_at": T0,
        "action": "BUY",
        "reason": "sentiment 0.62 over 4 articles, price above SMA20",
        "sentiment_score": 0.62,
        "article_count": 4,
        "price": 501.2,
        "sma20": 498.7,
        "input_fingerprint": fingerprint,
    }


def test_recommendations_are_idempotent_and_execute_at_most_once(store: CentralStore) -> None:
    assert store.upsert(dispatch_recommendations, [_recommendation("fp-1")], key=["input_fingerprint"]) == 1
    assert store.upsert(dispatch_recommendations, [_recommendation("fp-1")], key=["input_fingerprint"]) == 0
    with store.connect() as conn:
        rec = conn.execute(sa.select(dispatch_recommendations)).one()
    assert rec.status == "PENDING"

    execution = {
        "recommendation_id": rec.id,
        "ticker": "SPY",
        "action": "BUY",
        "quantity": 2.0,
        "fill_price": 501.3,
        "notional": 1002.6,
        "executed_at": T0 + timedelta(minutes=1),
    }
    with store.begin() as conn:
        conn.execute(dispatch_executions.insert(), execution)
    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(dispatch_executions.insert(), dict(execution, executed_at=T0 + timedelta(minutes=2)))
    assert store.upsert(dispatch_executions, [execution], key=["recommendation_id"]) == 0
    with store.connect() as conn:
        stored = conn.execute(sa.select(dispatch_executions)).one()
    assert stored.dry_run is True
    assert count(store, dispatch_executions) == 1


def test_foreign_keys_and_checks_are_enforced(store: CentralStore) -> None:
    classified = {
        "event_uid": "never-ingested",
        "sentiment_label": "positive",
        "sentiment_score": 0.5,
        "confidence": 0.7,
        "model_name": "ProsusAI/finbert",
        "tickers": ["SPY"],
        "classified_at": T0,
    }
    with pytest.raises(IntegrityError):
        store.upsert(inbound_events_classified, [classified], key=["event_uid"])
    with pytest.raises(IntegrityError):
        store.upsert(dispatch_recommendations, [dict(_recommendation("fp"), action="HOLD")], key=["input_fingerprint"])

    store.upsert(inbound_events_raw, [raw_event("e1")], key=["event_uid"])
    store.upsert(inbound_events_classified, [dict(classified, event_uid="e1")], key=["event_uid"])
    with store.connect() as conn:
        assert conn.execute(sa.select(inbound_events_classified.c.tickers)).scalar_one() == ["SPY"]


def test_concurrent_writers_with_their_own_store_instances(store_url: str) -> None:
    CentralStore(url=store_url).ensure_schema()
    workers = 4
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        store = CentralStore(url=store_url)
        barrier.wait(timeout=30)
        try:
            for batch in range(5):
                # Overlapping bars: every worker writes the same 200 keys plus 100 of its own per batch.
                rows = [bar("SPY", 5 * i) for i in range(200)]
                rows += [bar(f"W{worker}", 5 * (batch * 100 + i)) for i in range(100)]
                store.upsert(lane_telemetry, rows, key=["ticker", "ts"])
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    check = CentralStore(url=store_url)
    assert count(check, lane_telemetry) == 200 + workers * 500
    check.dispose()


# ---------------------------------------------------------------------------------------------------------------
# Unavailable database, secrets
# ---------------------------------------------------------------------------------------------------------------

PASSWORD = "s3cr3t-Pa55word"


def test_unreachable_database_raises_a_clear_error_without_the_password() -> None:
    store = CentralStore(url=f"postgresql+psycopg2://ops:{PASSWORD}@127.0.0.1:1/ops")
    assert PASSWORD not in repr(store)
    assert PASSWORD not in str(store)
    assert store.safe_url == "postgresql+psycopg2://ops:***@127.0.0.1:1/ops"

    for call in (
        store.engine,
        store.ensure_schema,
        lambda: store.upsert(lane_telemetry, [bar("X", 0)], key=["ticker", "ts"]),
    ):
        with pytest.raises(CentralStoreUnavailableError) as info:
            call()
        message = str(info.value)
        assert "postgresql+psycopg2://ops:***@127.0.0.1:1/ops" in message
        assert "unavailable" in message
        assert "Check that the database server is running" in message
        assert PASSWORD not in message
        assert PASSWORD not in "".join(traceback.format_exception(info.value))


def test_database_dropped_mid_use_raises_unavailable(pg_database: dict[str, str]) -> None:
    store = CentralStore(url=pg_url(pg_database, password=PASSWORD))  # trust auth ignores the password
    store.upsert(lane_telemetry, [bar("SPY", 0)], key=["ticker", "ts"])

    # A server-side disconnect of the pooled connection is survived (pool_pre_ping reconnects).
    admin = psycopg2.connect(
        host=pg_database["host"], port=pg_database["port"], user=pg_database["user"], dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (pg_database["db_name"],),
        )
    assert store.upsert(lane_telemetry, [bar("SPY", 5)], key=["ticker", "ts"]) == 1

    # The database going away is reported as unavailable, with the URL but not the password.
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE "{pg_database["db_name"]}" WITH (FORCE)')
    admin.close()
    with pytest.raises(CentralStoreUnavailableError, match=r"postgres:\*\*\*@127\.0\.0\.1:5432") as info:
        store.upsert(lane_telemetry, [bar("SPY", 10)], key=["ticker", "ts"])
    assert PASSWORD not in str(info.value)
    store.dispose()


def test_sqlite_file_is_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = CentralStore(url=f"sqlite:///{tmp_path / 'nested' / 'dir' / 'central.db'}")
    with store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000
    store.dispose()
