"""Desk-feed history: one behaviour suite run against both implementations, no mocks.

``history`` is the central store on the machine's PostgreSQL and on a SQLite file, and DynamoDB on a real moto
server process reached through ``AWS_ENDPOINT_URL`` (fresh tables per test). Then what only one of them has:
the central store's migration and prune, DynamoDB's table shapes, typed items and TTL.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
import sqlalchemy as sa
from alembic import command

from resources.central_schema import DESK_HISTORY_TABLES
from resources.central_store import CentralStore
from resources.desk_history import (
    ORDER_TTL,
    SOURCE_INDEX,
    CentralStoreDeskHistory,
    DeskHistory,
    DeskHistoryUnavailableError,
    DeskRowError,
    DynamoDbDeskHistory,
    EodRow,
    MarketRow,
    OrderSnapshotRow,
    SodRow,
    StoredEodRow,
    StoredMarketRow,
    StoredSodRow,
    WorkingOrder,
    epoch_ms,
    from_epoch_ms,
)
from tests.conftest import pg_url

pytestmark = pytest.mark.integration

T0 = datetime(2024, 1, 15, 10, 39, 38, tzinfo=UTC)
T0_MS = epoch_ms(T0)
ARRIVED = T0 + timedelta(milliseconds=850)
KEY_A = "market-data/2024/01/15/GE_XCME.ZN_20240115_103938.csv"
KEY_B = "market-data/2024/01/15/GE_XCME.ZN_20240115_103940.csv"
ETAG_A = '"9b2cf535f27731c974343645a3985328"'
ETAG_B = '"6f1ed002ab5595859014ebf0951522d9"'
EOD_KEY = "eod/2024/01/15/actant_eod_20240115.csv"
SOD_KEY = "sod/2024/01/15/actant_sod_20240115.csv"
SNAPSHOT_KEY = "working-orders/2024/01/15/orders_snapshot_1705315178.json"


@pytest.fixture(params=["postgresql", "sqlite", "dynamodb"])
def history(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeskHistory]:
    if request.param == "dynamodb":
        monkeypatch.setenv("AWS_ENDPOINT_URL", request.getfixturevalue("moto_server"))
        dynamo = DynamoDbDeskHistory(table_suffix=f"test{uuid.uuid4().hex[:12]}")
        dynamo.create_tables()
        yield dynamo
        return
    if request.param == "postgresql":
        url = pg_url(request.getfixturevalue("pg_database"))
    else:
        url = f"sqlite:///{tmp_path / 'store' / 'central.db'}"
    store = CentralStore(url=url)
    yield CentralStoreDeskHistory(store=store)
    store.dispose()


@pytest.fixture
def dynamo(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> DynamoDbDeskHistory:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    history = DynamoDbDeskHistory(table_suffix=f"test{uuid.uuid4().hex[:12]}")
    history.create_tables()
    return history


def market(instrument: str, offset_ms: int, price: str, **extra: Any) -> MarketRow:
    return MarketRow(instrument_id=instrument, timestamp=T0_MS + offset_ms, price=Decimal(price), **extra)


def stored(row: MarketRow, source_key: str = KEY_A, etag: str = ETAG_A, arrived_at: datetime = ARRIVED) -> Any:
    fields = {name: getattr(row, name) for name in MarketRow.__dataclass_fields__}
    return StoredMarketRow(**fields, arrived_at=arrived_at, source_key=source_key, etag=etag)


def write_a(history: DeskHistory, rows: list[Any]) -> int:
    return history.write_market(rows, source_key=KEY_A, etag=ETAG_A, arrived_at=ARRIVED)


def day_window(history: DeskHistory, instrument: str = "ZN") -> list[StoredMarketRow]:
    return history.market_rows(instrument, T0 - timedelta(hours=12), T0 + timedelta(hours=12))


# ---------------------------------------------------------------------------------------------------------------
# Rows read back exactly
# ---------------------------------------------------------------------------------------------------------------


def test_market_rows_read_back_exactly(history: DeskHistory) -> None:
    rows = [
        market("ZN", 0, "112.515625", bid=Decimal("112.5"), ask=Decimal("112.53125"), volume=15234),
        market("ZN", 250, "0.1", bid=Decimal("0.10"), ask=None, volume=Decimal("0")),
        # 38 significant digits, the most DynamoDB holds: SQLite would keep 15 of them as a REAL.
        market("ZN", 500, "1234567890.1234567890123456789012345678"),
        market("ZF", 0, "-0.000001", volume=Decimal("1E+3")),
    ]
    assert write_a(history, rows) == 4

    zn = day_window(history)
    assert zn == [stored(rows[0]), stored(rows[1]), stored(rows[2])]
    assert zn[1].price == Decimal("0.1")
    assert zn[1].ask is None
    assert zn[0].volume == Decimal(15234)
    assert all(isinstance(r.price, Decimal) and isinstance(r.timestamp, int) for r in zn)
    assert zn[2].price.as_tuple() == Decimal("1234567890.1234567890123456789012345678").as_tuple()
    assert zn[0].arrived_at == ARRIVED
    assert zn[0].arrived_at.utcoffset() == timedelta(0)
    assert history.market_rows("ZF", T0, T0 + timedelta(seconds=1)) == [stored(rows[3])]


def test_market_window_is_half_open_and_takes_epoch_ms(history: DeskHistory) -> None:
    rows = [market("ZN", offset, "112.5") for offset in (0, 1000, 2000, 3000)]
    write_a(history, rows)
    assert [r.timestamp for r in history.market_rows("ZN", T0_MS + 1000, T0_MS + 3000)] == [
        T0_MS + 1000,
        T0_MS + 2000,
    ]
    in_new_york = T0.astimezone(timezone(timedelta(hours=-5)))
    assert len(history.market_rows("ZN", in_new_york, in_new_york + timedelta(seconds=3))) == 3
    assert history.market_rows("ZN", T0_MS + 3000, T0_MS) == []
    assert history.market_rows("CL", T0_MS, T0_MS + 10_000) == []
    with pytest.raises(DeskRowError, match="naive"):
        history.market_rows("ZN", T0.replace(tzinfo=None), T0 + timedelta(seconds=1))


def test_eod_sod_and_order_rows_read_back_exactly(history: DeskHistory) -> None:
    eod = [
        EodRow(
            instrument_id="OZNH4 C112",
            timestamp=T0_MS,
            account="DESK1",
            position=Decimal("-25"),
            settlement_price=Decimal("0.453125"),
            delta=Decimal("-0.4812"),
            gamma=Decimal("0.1"),
            vega=Decimal("12.75"),
            theta=Decimal("-3.2"),
        ),
        EodRow(instrument_id="ZN", timestamp=T0_MS, account="DESK1", position=Decimal("40")),
    ]
    assert history.write_eod(eod, source_key=EOD_KEY, etag=ETAG_A, arrived_at=ARRIVED) == 2
    got = history.eod_rows("OZNH4 C112", T0, T0 + timedelta(milliseconds=1))
    assert got == [StoredEodRow(**vars(eod[0]), arrived_at=ARRIVED, source_key=EOD_KEY, etag=ETAG_A)]
    assert history.eod_rows("ZN", T0_MS, T0_MS + 1)[0].settlement_price is None

    sod = [
        SodRow.for_day(account="DESK1", day=date(2024, 1, 15), instrument_id="ZN", position=Decimal("40")),
        SodRow.for_day(
            account="DESK1", day=date(2024, 1, 15), instrument_id="ZF", position=Decimal("-7"), avg_price=Decimal("0.1")
        ),
        # Another account in the same instrument on the same day: its own row, not an overwrite.
        SodRow.for_day(account="DESK2", day=date(2024, 1, 15), instrument_id="ZN", position=Decimal("3")),
    ]
    assert sod[0].account_date == "DESK1#2024-01-15"
    assert history.write_sod(sod, source_key=SOD_KEY, etag=ETAG_B, arrived_at=ARRIVED) == 3
    desk1 = history.sod_rows("DESK1", date(2024, 1, 15))
    assert desk1 == [
        StoredSodRow(**vars(sod[1]), arrived_at=ARRIVED, source_key=SOD_KEY, etag=ETAG_B),
        StoredSodRow(**vars(sod[0]), arrived_at=ARRIVED, source_key=SOD_KEY, etag=ETAG_B),
    ]
    assert desk1[0].day == date(2024, 1, 15)
    assert [r.position for r in history.sod_rows("DESK2", date(2024, 1, 15))] == [Decimal("3")]
    assert history.sod_rows("DESK1", date(2024, 1, 16)) == []

    orders = [
        WorkingOrder(order_id="12345", instrument="ZN", side="BUY", qty=Decimal("10"), status="Working",
                     price=Decimal("112.515625")),
        WorkingOrder(order_id="12346", instrument="ZF", side="SELL", qty=Decimal("5"), status="Working"),
    ]  # fmt: skip
    assert history.write_order_snapshot(orders, at=T0, source_key=SNAPSHOT_KEY) == 2
    expire = int(T0.timestamp()) + 7 * 86_400
    assert history.order_history("12345", now=T0) == [
        OrderSnapshotRow(**vars(orders[0]), timestamp=T0_MS, expire_time=expire, source_key=SNAPSHOT_KEY)
    ]
    assert history.order_history("12346", now=T0)[0].price is None


# ---------------------------------------------------------------------------------------------------------------
# Idempotence and counts
# ---------------------------------------------------------------------------------------------------------------


def test_a_duplicate_event_writes_nothing_new(history: DeskHistory) -> None:
    rows = [market("ZN", i * 100, f"112.{i}") for i in range(5)]
    assert write_a(history, rows) == 5
    before = day_window(history)

    # The same S3 event delivered again (same key, ETag, landing time): rewritten, identical, not duplicated.
    assert write_a(history, rows) == 5
    assert day_window(history) == before
    assert history.count_for_source("market", KEY_A) == 5

    # Rows repeating a key within one write collapse: one row per key.
    assert write_a(history, [rows[0], rows[0], rows[1], rows[0]]) == 2
    assert history.count_for_source("market", KEY_A) == 5
    assert day_window(history) == before


def test_same_key_with_other_values_last_write_wins(history: DeskHistory) -> None:
    rows = [market("ZN", 0, "112.5"), market("ZN", 100, "112.6")]
    write_a(history, rows)

    # Actant re-sends a corrected file: the restated key takes the new values and counts for the new file.
    corrected = market("ZN", 100, "112.55", bid=Decimal("112.54"))
    later = ARRIVED + timedelta(minutes=5)
    assert history.write_market([corrected], source_key=KEY_B, etag=ETAG_B, arrived_at=later) == 1
    assert day_window(history) == [stored(rows[0]), stored(corrected, KEY_B, ETAG_B, later)]
    assert history.count_for_source("market", KEY_A) == 1
    assert history.count_for_source("market", KEY_B) == 1

    # Within one write, the last of two rows with one key wins.
    first, last = market("ZN", 200, "1"), market("ZN", 200, "2")
    write_a(history, [first, last])
    assert day_window(history)[-1].price == Decimal("2")


def test_counts_per_source_and_kind(history: DeskHistory) -> None:
    write_a(history, [market("ZN", i, "1") for i in range(7)])
    history.write_market([market("ZF", i, "1") for i in range(3)], source_key=KEY_B, etag=ETAG_B, arrived_at=ARRIVED)
    history.write_eod(
        [EodRow(instrument_id="ZN", timestamp=T0_MS, account="DESK1", position=Decimal(1))],
        source_key=EOD_KEY,
        etag=ETAG_A,
        arrived_at=ARRIVED,
    )
    history.write_sod(
        [SodRow.for_day(account="DESK1", day=date(2024, 1, 15), instrument_id=i, position=Decimal(1)) for i in "AB"],
        source_key=SOD_KEY,
        etag=ETAG_A,
        arrived_at=ARRIVED,
    )
    history.write_order_snapshot(
        [
            WorkingOrder(order_id=str(i), instrument="ZN", side="BUY", qty=Decimal(1), status="Working")
            for i in range(4)
        ],
        at=T0,
        source_key=SNAPSHOT_KEY,
    )
    assert history.count_for_source("market", KEY_A) == 7
    assert history.count_for_source("market", KEY_B) == 3
    assert history.count_for_source("eod", EOD_KEY) == 1
    assert history.count_for_source("sod", SOD_KEY) == 2
    assert history.count_for_source("orders", SNAPSHOT_KEY) == 4
    assert history.count_for_source("market", "market-data/2024/01/15/never.csv") == 0
    assert history.count_for_source("eod", KEY_A) == 0
    with pytest.raises(ValueError, match="Unknown history kind 'trades'"):
        history.count_for_source("trades", KEY_A)  # type: ignore[arg-type]


def test_empty_write_stores_nothing(history: DeskHistory) -> None:
    assert write_a(history, []) == 0
    assert history.write_order_snapshot([], at=T0, source_key=SNAPSHOT_KEY) == 0
    assert history.count_for_source("market", KEY_A) == 0


# ---------------------------------------------------------------------------------------------------------------
# Order snapshots: 7-day TTL
# ---------------------------------------------------------------------------------------------------------------


def test_order_rows_expire_seven_days_after_their_snapshot(history: DeskHistory) -> None:
    order = WorkingOrder(order_id="12345", instrument="ZN", side="BUY", qty=Decimal(10), status="Working")
    later = T0 + timedelta(seconds=30)
    history.write_order_snapshot([order], at=T0, source_key=SNAPSHOT_KEY)
    history.write_order_snapshot(
        [order], at=later, source_key="working-orders/2024/01/15/orders_snapshot_1705315208.json"
    )

    rows = history.order_history("12345", now=T0)
    assert [r.timestamp for r in rows] == [T0_MS, epoch_ms(later)]
    assert [r.expire_time for r in rows] == [int((T0 + ORDER_TTL).timestamp()), int((later + ORDER_TTL).timestamp())]
    assert from_epoch_ms(rows[0].timestamp) == T0

    # Both alive 6 days on; at T0 + 7 days the first has expired (reads leave it out before any deletion).
    assert len(history.order_history("12345", now=T0 + timedelta(days=6))) == 2
    assert [r.timestamp for r in history.order_history("12345", now=T0 + ORDER_TTL)] == [epoch_ms(later)]
    assert history.order_history("12345", now=later + ORDER_TTL) == []
    assert [r.timestamp for r in history.order_history("12345", start=later, now=T0)] == [epoch_ms(later)]

    # The same snapshot written twice (a retried trigger): one row per order and snapshot.
    history.write_order_snapshot([order], at=T0, source_key=SNAPSHOT_KEY)
    assert history.count_for_source("orders", SNAPSHOT_KEY) == 1


def test_central_store_prune_deletes_expired_order_rows(store: CentralStore) -> None:
    history = CentralStoreDeskHistory(store=store)
    orders = [
        WorkingOrder(order_id=str(i), instrument="ZN", side="SELL", qty=Decimal(1), status="Working") for i in (1, 2)
    ]
    history.write_order_snapshot(orders, at=T0, source_key=SNAPSHOT_KEY)
    history.write_order_snapshot(orders[:1], at=T0 + timedelta(days=1), source_key="later.json")

    assert history.prune_expired(T0 + ORDER_TTL - timedelta(seconds=1)) == 0
    assert history.prune_expired(T0 + ORDER_TTL) == 2
    assert history.count_for_source("orders", SNAPSHOT_KEY) == 0
    assert history.count_for_source("orders", "later.json") == 1
    assert history.prune_expired(T0 + ORDER_TTL) == 0
    with pytest.raises(DeskRowError, match="naive"):
        history.prune_expired(T0.replace(tzinfo=None))


# ---------------------------------------------------------------------------------------------------------------
# Refused rows
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (112.5, "price is the float 112.5: history numbers must be Decimal (floats are inexact, and boto3 refuses"),
        (float("nan"), "price is the float nan"),
        (Decimal("NaN"), "price is NaN: NaN and infinities"),
        (Decimal("-Infinity"), "price is -Infinity"),
        (Decimal("sNaN"), "price is sNaN"),
        ("112.5", "price must be a Decimal, got str"),
        (True, "price must be a Decimal, got bool"),
        (None, "price is required"),
        (Decimal("1." + "1" * 38), "has more than 38 significant digits"),
    ],
)
def test_a_float_or_nan_is_refused_and_nothing_is_written(history: DeskHistory, value: object, message: str) -> None:
    good = {"instrument_id": "ZN", "timestamp": T0_MS, "price": Decimal("112.5")}
    bad = {**good, "timestamp": T0_MS + 1, "price": value}
    with pytest.raises(DeskRowError, match=rf"^market file {re.escape(KEY_A)} row 1: MarketRow\.price") as refused:
        write_a(history, [good, bad])
    assert message in str(refused.value)
    assert history.count_for_source("market", KEY_A) == 0
    assert day_window(history) == []


def test_floats_are_refused_when_a_row_is_built() -> None:
    with pytest.raises(DeskRowError, match=r"MarketRow\.bid is the float 0\.1"):
        MarketRow(instrument_id="ZN", timestamp=T0_MS, price=Decimal("0.1"), bid=0.1)  # type: ignore[arg-type]
    with pytest.raises(DeskRowError, match=r"EodRow\.gamma is NaN"):
        EodRow(instrument_id="ZN", timestamp=T0_MS, account="A", position=Decimal(1), gamma=Decimal("nan"))
    with pytest.raises(DeskRowError, match=r"WorkingOrder\.qty is the float 10\.0"):
        WorkingOrder(order_id="1", instrument="ZN", side="BUY", qty=10.0, status="Working")  # type: ignore[arg-type]
    with pytest.raises(DeskRowError, match=r"SodRow\.avg_price is the float inf"):
        SodRow.for_day(
            account="A", day=date(2024, 1, 15), instrument_id="ZN", position=Decimal(1), avg_price=float("inf")
        )  # type: ignore[arg-type]
    # An int is an exact decimal.
    assert MarketRow(instrument_id="ZN", timestamp=T0_MS, price=112).price == Decimal(112)  # type: ignore[arg-type]


def test_rows_with_bad_fields_keys_or_times_are_refused(history: DeskHistory) -> None:
    base = {"instrument_id": "ZN", "timestamp": T0_MS, "price": Decimal("1")}
    cases = [
        ({**base, "exchange": "XCME"}, r"unknown field\(s\) \['exchange'\]"),  # the seed stored every CSV column
        ({"instrument_id": "ZN", "price": Decimal(1)}, r"lacks the field\(s\) \['timestamp'\]"),
        ({**base, "timestamp": 1705315178}, "epoch seconds\\? it must be milliseconds"),
        ({**base, "timestamp": float(T0_MS)}, "timestamp must be an int of epoch milliseconds"),
        ({**base, "instrument_id": " "}, "instrument_id must be a non-empty string"),
    ]
    for row, message in cases:
        with pytest.raises(DeskRowError, match=message):
            write_a(history, [row])
    with pytest.raises(DeskRowError, match="expected a MarketRow or a mapping"):
        write_a(history, [("ZN", T0_MS, Decimal(1))])
    with pytest.raises(DeskRowError, match="arrived_at must be timezone-aware"):
        history.write_market([base], source_key=KEY_A, etag=ETAG_A, arrived_at=T0.replace(tzinfo=None))
    with pytest.raises(DeskRowError, match="etag must be a non-empty string"):
        history.write_market([base], source_key=KEY_A, etag="", arrived_at=ARRIVED)
    with pytest.raises(DeskRowError, match="not '<account>#<YYYY-MM-DD>'"):
        history.write_sod(
            [{"account_date": "2024-01-15", "instrument_id": "ZN", "account": "DESK1", "position": Decimal(1)}],
            source_key=SOD_KEY,
            etag=ETAG_A,
            arrived_at=ARRIVED,
        )
    assert history.count_for_source("market", KEY_A) == 0
    assert history.count_for_source("sod", SOD_KEY) == 0


def test_eod_rows_of_two_accounts_on_one_key_are_refused(history: DeskHistory) -> None:
    rows = [
        EodRow(instrument_id="ZN", timestamp=T0_MS, account="DESK1", position=Decimal(40)),
        EodRow(instrument_id="ZN", timestamp=T0_MS, account="DESK2", position=Decimal(-3)),
    ]
    with pytest.raises(DeskRowError, match="accounts 'DESK1' and 'DESK2' share the key"):
        history.write_eod(rows, source_key=EOD_KEY, etag=ETAG_A, arrived_at=ARRIVED)
    assert history.count_for_source("eod", EOD_KEY) == 0


# ---------------------------------------------------------------------------------------------------------------
# Volume
# ---------------------------------------------------------------------------------------------------------------


def test_a_ten_thousand_row_file(history: DeskHistory) -> None:
    rows = [
        MarketRow(
            instrument_id=f"ES{i % 4}",
            timestamp=T0_MS + i,
            price=Decimal(4800) + Decimal(i) / 4,
            bid=Decimal("4799.75") + Decimal(i) / 4,
            ask=Decimal("4800.25") + Decimal(i) / 4,
            volume=Decimal(i),
        )
        for i in range(10_000)
    ]
    started = time.perf_counter()
    assert write_a(history, rows) == 10_000
    elapsed = time.perf_counter() - started
    assert history.count_for_source("market", KEY_A) == 10_000
    got = history.market_rows("ES3", T0, T0 + timedelta(seconds=11))
    assert got == [stored(row) for row in rows if row.instrument_id == "ES3"]
    assert len(got) == 2_500
    print(f"{type(history).__name__}: 10,000 rows written in {elapsed:.2f} s")


# ---------------------------------------------------------------------------------------------------------------
# Central store only
# ---------------------------------------------------------------------------------------------------------------


def test_migration_0002_upgrades_a_0001_database_and_downgrades(store: CentralStore) -> None:
    config = store.alembic_config()
    with store._raw_engine().begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    assert store.current_revision() == "0001"
    # 0002 is applied first; later revisions (0003 ...) follow it up to head.
    assert store.ensure_schema()[:1] == ["0002"]
    with store.connect() as conn:
        inspector = sa.inspect(conn)
        assert {t.name for t in DESK_HISTORY_TABLES} <= set(inspector.get_table_names())
        columns = {c["name"]: c for c in inspector.get_columns("desk_market_history")}
        assert inspector.get_pk_constraint("desk_market_history")["constrained_columns"] == [
            "instrument_id",
            "timestamp",
        ]
        assert inspector.get_pk_constraint("desk_sod_history")["constrained_columns"] == [
            "account_date",
            "instrument_id",
        ]
    price_type = columns["price"]["type"]
    if store.engine().dialect.name == "postgresql":
        assert isinstance(price_type, sa.Numeric)
        assert price_type.precision is None
    else:
        assert isinstance(price_type, sa.Text)  # the exact text; NUMERIC affinity would round to a REAL
        history = CentralStoreDeskHistory(store=store)
        write_a(history, [market("ZN", 0, "0.10")])
        with store.connect() as conn:
            raw = conn.exec_driver_sql("SELECT price, typeof(price) FROM desk_market_history").one()
        assert tuple(raw) == ("0.10", "text")

    with store._raw_engine().begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    with store.connect() as conn:
        assert not {t.name for t in DESK_HISTORY_TABLES} & set(sa.inspect(conn).get_table_names())
    store.dispose()
    assert store.ensure_schema()[:1] == ["0002"]


def test_central_store_write_is_all_or_nothing(store: CentralStore) -> None:
    history = CentralStoreDeskHistory(store=store)
    write_a(history, [market("ZN", 0, "1")])
    # 1,500 rows go in two INSERT batches of one transaction; the second batch fails (a value the column type
    # refuses, slipped past the row checks), and the first batch is rolled back with it.
    rows = [
        {**vars(market("ZN", i, "2")), "arrived_at": ARRIVED, "source_key": KEY_B, "etag": ETAG_B}
        for i in range(1, 1501)
    ]
    rows[1400]["price"] = "not a number"
    with pytest.raises(sa.exc.StatementError, match="Expected a Decimal"):
        history._put("market", rows)
    assert history.count_for_source("market", KEY_B) == 0
    assert history.count_for_source("market", KEY_A) == 1


def test_a_dagster_asset_takes_the_interface(tmp_path: Path) -> None:
    @dg.asset
    def desk_market_history_sample(desk_history: DeskHistory) -> int:
        return desk_history.write_market([market("ZN", 0, "112.5")], source_key=KEY_A, etag=ETAG_A, arrived_at=ARRIVED)

    store = CentralStore(url=f"sqlite:///{tmp_path / 'central.db'}")
    result = dg.materialize(
        [desk_market_history_sample], resources={"desk_history": CentralStoreDeskHistory(store=store)}
    )
    assert result.success
    assert result.output_for_node("desk_market_history_sample") == 1
    assert CentralStoreDeskHistory(store=store).count_for_source("market", KEY_A) == 1
    store.dispose()


# ---------------------------------------------------------------------------------------------------------------
# DynamoDB only
# ---------------------------------------------------------------------------------------------------------------


def test_dynamodb_tables_have_the_seeds_names_keys_and_ttl(dynamo: DynamoDbDeskHistory, moto_server: str) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server)
    assert dynamo._client().meta.endpoint_url == moto_server  # AWS_ENDPOINT_URL honoured
    suffix = dynamo.table_suffix
    expected = {
        "ActantMarketData": (("instrument_id", "S"), ("timestamp", "N")),
        "ActantEODData": (("instrument_id", "S"), ("timestamp", "N")),
        "ActantSODData": (("account_date", "S"), ("instrument_id", "S")),
        "TTWorkingOrders": (("order_id", "S"), ("timestamp", "N")),
    }
    for base, ((pk, pk_type), (sk, sk_type)) in expected.items():
        table = client.describe_table(TableName=f"{base}-{suffix}")["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        assert table["KeySchema"] == [
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ]
        assert (types[pk], types[sk]) == (pk_type, sk_type)
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == [SOURCE_INDEX]
        ttl = client.describe_time_to_live(TableName=f"{base}-{suffix}")["TimeToLiveDescription"]
        if base == "TTWorkingOrders":
            assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expire_time")
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"
    assert dynamo.create_tables() == []  # idempotent
    assert dynamo.prune_expired(T0) == 0  # the table's TTL deletes


def test_dynamodb_items_are_typed(dynamo: DynamoDbDeskHistory, moto_server: str) -> None:
    write_a(dynamo, [market("ZN", 0, "0.1", volume=Decimal(15234))])
    dynamo.write_order_snapshot(
        [WorkingOrder(order_id="12345", instrument="ZN", side="BUY", qty=Decimal(10), status="Working")],
        at=T0,
        source_key=SNAPSHOT_KEY,
    )
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server)
    item = client.get_item(
        TableName=dynamo.table_name("market"),
        Key={"instrument_id": {"S": "ZN"}, "timestamp": {"N": str(T0_MS)}},
        ConsistentRead=True,
    )["Item"]
    assert item == {
        "instrument_id": {"S": "ZN"},
        "timestamp": {"N": str(T0_MS)},
        "price": {"N": "0.1"},
        "volume": {"N": "15234"},
        "arrived_at": {"S": "2024-01-15T10:39:38.850000+00:00"},
        "source_key": {"S": KEY_A},
        "etag": {"S": ETAG_A},
    }
    order = client.get_item(
        TableName=dynamo.table_name("orders"),
        Key={"order_id": {"S": "12345"}, "timestamp": {"N": str(T0_MS)}},
        ConsistentRead=True,
    )["Item"]
    assert order["expire_time"] == {"N": str(int(T0.timestamp()) + 7 * 86_400)}
    assert "price" not in order


def test_dynamodb_without_tables_says_how_to_create_them(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    missing = DynamoDbDeskHistory(table_suffix=f"missing{uuid.uuid4().hex[:8]}")
    with pytest.raises(DeskHistoryUnavailableError, match=r"ActantMarketData-missing\w+ does not exist.*create_tables"):
        write_a(missing, [market("ZN", 0, "1")])
    with pytest.raises(DeskHistoryUnavailableError, match="does not exist"):
        missing.count_for_source("eod", EOD_KEY)


def test_dynamodb_unreachable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    history = DynamoDbDeskHistory(table_suffix="down", max_attempts=1)
    with pytest.raises(DeskHistoryUnavailableError, match="unavailable while reading market rows"):
        history.market_rows("ZN", T0, T0 + timedelta(seconds=1))
