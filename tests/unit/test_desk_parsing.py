"""Unit tests of the trading-desk feed's key routing and file parsing (ops_assets.desk.files / .parsing) and of the
sample Actant generator (resources.sample_sources.actant)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from ops_assets.desk.files import (
    FileKind,
    LandedFile,
    RouteError,
    eod_key,
    market_key,
    original_key,
    processed_key,
    quarantine_key,
    quarantine_reason_key,
    route,
    snapshot_key,
    sod_key,
)
from ops_assets.desk.parsing import (
    ACTANT_TIMEZONE,
    MAX_ROWS,
    MalformedFile,
    MarketRow,
    parse_data_time,
    parse_decimal,
    parse_eod,
    parse_file,
    parse_market,
    parse_orders,
    parse_sod,
    resolve_timezone,
)
from resources.sample_sources import actant

HEADER = "instrument,price,bid,ask,volume,timestamp"
DAY = date(2024, 1, 15)


def market(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def refused(call, *args, **kwargs) -> MalformedFile:
    with pytest.raises(MalformedFile) as caught:
        call(*args, **kwargs)
    return caught.value


# ---------------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kind", "day", "name"),
    [
        (
            "market-data/2024/01/15/GE_XCME.ZN_20240115_103938.csv",
            FileKind.MARKET,
            DAY,
            "GE_XCME.ZN_20240115_103938.csv",
        ),
        ("market-data/2024/01/15/eod_like_name.csv", FileKind.MARKET, DAY, "eod_like_name.csv"),
        ("market-data/2024/01/15/actant_sod_20240115.csv", FileKind.MARKET, DAY, "actant_sod_20240115.csv"),
        ("market-data/2024/02/29/leap.csv", FileKind.MARKET, date(2024, 2, 29), "leap.csv"),
        ("eod/2024/01/15/actant_eod_20240115.csv", FileKind.EOD, DAY, "actant_eod_20240115.csv"),
        ("sod/2024/01/15/actant_sod_20240115.csv", FileKind.SOD, DAY, "actant_sod_20240115.csv"),
        (
            "working-orders/2024/01/15/orders_snapshot_1705320000.json",
            FileKind.ORDERS,
            DAY,
            "orders_snapshot_1705320000.json",
        ),
    ],
)
def test_route_accepts_the_layout_by_prefix(key, kind, day, name):
    landed = route(key)
    assert landed == LandedFile(
        kind, key, day, name, snapshot_at=datetime(2024, 1, 15, 12, tzinfo=UTC) if kind is FileKind.ORDERS else None
    )


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("processed/market-data/2024/01/15/GE_XCME.ZN_20240115_103938.csv", "archived"),
        ("processed/eod/2024/01/15/actant_eod_20240115.csv", "archived"),
        ("quarantine/market-data/2024/01/15/bad.csv", "quarantined"),
        ("quarantine/market-data/2024/01/15/bad.csv.reason.json", "quarantined"),
        ("archive/eod/2024/01/15/actant_eod_20240115.csv", "'archive/'"),
        ("backup/market-data/2024/01/15/x.csv", "'backup/'"),
        ("market-data-old/2024/01/15/x.csv", "'market-data-old/'"),
        ("eods/2024/01/15/actant_eod_20240115.csv", "'eods/'"),
        ("Market-Data/2024/01/15/x.csv", "'Market-Data/'"),
        ("/market-data/2024/01/15/x.csv", "'/'"),
        ("actant_eod_20240115.csv", "none of"),
        ("", "empty key"),
    ],
)
def test_route_leaves_what_is_not_the_feeds_alone(key, why):
    result = route(key)
    assert isinstance(result, RouteError)
    assert result.ours is False
    assert why in result.reason


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("market-data/test.csv", "expected market-data/YYYY/MM/DD/<file>"),
        ("market-data/2024/01/15/", "is not <name>.csv"),
        ("market-data/2024/01/15/sub/x.csv", "segment(s)"),
        ("market-data/2024/1/15/x.csv", "'1' is not MM"),
        ("market-data/24/01/15/x.csv", "'24' is not YYYY"),
        ("market-data/2024/02/30/x.csv", "not a real date"),
        ("market-data/2023/02/29/x.csv", "not a real date"),
        ("market-data/2024/13/01/x.csv", "not a real date"),
        ("market-data/2024/01/15/x.json", "is not <name>.csv"),
        ("market-data/2024/01/15/x.CSV", "is not <name>.csv"),
        ("market-data/2024/01/15/x.csv.tmp", "is not <name>.csv"),
        ("market-data/2024/01/15/x\nname.csv", "control characters"),
        ("eod/2024/01/16/actant_eod_20240115.csv", "sits in the 2024-01-16 folder"),
        ("eod/2024/01/15/actant_sod_20240115.csv", "is not actant_eod_YYYYMMDD.csv"),
        ("eod/2024/01/15/eod.csv", "is not actant_eod_YYYYMMDD.csv"),
        ("sod/2024/01/15/actant_eod_20240115.csv", "is not actant_sod_YYYYMMDD.csv"),
        ("sod/2024/02/30/actant_sod_20240230.csv", "not a real date"),
        ("working-orders/test.json", "expected working-orders/YYYY/MM/DD/<file>"),
        ("working-orders/2024/01/15/orders_snapshot_abc.json", "orders_snapshot_<epoch seconds>.json"),
        ("working-orders/2024/01/15/orders_snapshot_1705320000.csv", "orders_snapshot_<epoch seconds>.json"),
        ("working-orders/2024/01/16/orders_snapshot_1705320000.json", "not on the folder's day 2024-01-16"),
    ],
)
def test_route_refuses_a_feed_key_that_breaks_the_layout(key, why):
    result = route(key)
    assert isinstance(result, RouteError)
    assert result.ours is True, "a file meant for the feed: quarantine it so that somebody sees it"
    assert why in result.reason
    assert key in str(result) or "\n" in key


def test_archive_and_quarantine_keys():
    key = "market-data/2024/01/15/GE_XCME.ZN_20240115_103938.csv"
    assert processed_key(key) == "processed/" + key
    assert quarantine_key(key) == "quarantine/" + key
    assert quarantine_reason_key(key) == "quarantine/" + key + ".reason.json"
    for archived in (processed_key(key), quarantine_key(key), quarantine_reason_key(key)):
        assert original_key(archived) == key
        assert route(archived).ours is False  # an archived file is never loaded again
        with pytest.raises(ValueError, match="not an original feed key"):
            processed_key(archived)
    with pytest.raises(ValueError, match="neither under"):
        original_key(key)


def test_key_builders_route_back():
    assert route(market_key(DAY, "GE_XCME.ZN_20240115_103938.csv")).kind is FileKind.MARKET
    assert eod_key(DAY) == "eod/2024/01/15/actant_eod_20240115.csv"
    assert sod_key(DAY) == "sod/2024/01/15/actant_sod_20240115.csv"
    assert route(eod_key(DAY)).kind is FileKind.EOD
    assert route(sod_key(DAY)).kind is FileKind.SOD
    with pytest.raises(ValueError, match=r"<name>\.csv"):
        market_key(DAY, "nested/x.csv")


def test_snapshot_key_is_the_utc_day_and_epoch_and_routes_back():
    at = datetime(2024, 1, 15, 12, 0, 0, 900_000, tzinfo=UTC)
    assert snapshot_key(at) == "working-orders/2024/01/15/orders_snapshot_1705320000.json"
    late_in_chicago = datetime(2024, 1, 15, 23, 59, 59, tzinfo=timezone(timedelta(hours=-6)))
    key = snapshot_key(late_in_chicago)
    assert key.startswith("working-orders/2024/01/16/")  # the UTC day, as route() checks it
    landed = route(key)
    assert isinstance(landed, LandedFile)
    assert landed.snapshot_at == late_in_chicago
    assert snapshot_key(at) != snapshot_key(at + timedelta(seconds=30))
    with pytest.raises(ValueError, match="timezone-aware"):
        snapshot_key(datetime(2024, 1, 15, 12))


# ---------------------------------------------------------------------------------------------------
# Numbers and times
# ---------------------------------------------------------------------------------------------------


def test_decimals_come_from_the_text_never_through_a_float():
    parsed = parse_market(
        market(
            "ZN,0.1,0.2,0.3,1,2024-01-15T10:00:00Z",
            "ZN 2024-03 C112,112.515625,-1.50,1.5e-3,2,2024-01-15T10:00:00Z",
        )
    )
    zn, option = parsed.rows
    assert zn.price == Decimal("0.1")
    assert type(zn.price) is Decimal
    assert zn.bid + zn.price == Decimal("0.3")  # 0.1 + 0.2 == 0.3 exactly
    assert str(zn.price) == "0.1"
    assert option.price == Decimal("112.515625")
    assert str(option.bid) == "-1.50"  # negative prices (spreads) are prices; trailing zeros kept as written
    assert option.ask == Decimal("0.0015")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("NaN", "not a finite number"),
        ("nan", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("inf", "not a finite number"),
        ("1,234.5", "not a number"),
        ("0x10", "not a number"),
        ("12.5.1", "not a number"),
        ("1" * 39, "more than 38 significant digits"),
        ("1e400", "out of range"),
    ],
)
def test_parse_decimal_refuses(text, why):
    with pytest.raises(ValueError, match=why):
        parse_decimal(text)


CHICAGO = ACTANT_TIMEZONE


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2024-01-15T10:39:38-06:00", None, datetime(2024, 1, 15, 16, 39, 38, tzinfo=UTC)),
        ("2024-01-15T16:39:38.125Z", None, datetime(2024, 1, 15, 16, 39, 38, 125_000, tzinfo=UTC)),
        ("2024-01-15 16:39:38+00:00", CHICAGO, datetime(2024, 1, 15, 16, 39, 38, tzinfo=UTC)),  # offset wins
        ("1705336778", None, datetime(2024, 1, 15, 16, 39, 38, tzinfo=UTC)),
        ("1705336778.25", None, datetime(2024, 1, 15, 16, 39, 38, 250_000, tzinfo=UTC)),
        ("1705336778123", None, datetime(2024, 1, 15, 16, 39, 38, 123_000, tzinfo=UTC)),
        ("2024-01-15 10:39:38.125", CHICAGO, datetime(2024, 1, 15, 16, 39, 38, 125_000, tzinfo=UTC)),  # CST
        ("2024-07-15 10:39:38", CHICAGO, datetime(2024, 7, 15, 15, 39, 38, tzinfo=UTC)),  # CDT
        ("2024-03-10 01:30:00", CHICAGO, datetime(2024, 3, 10, 7, 30, tzinfo=UTC)),  # DST day, before the change
        ("2024-03-10 03:30:00", CHICAGO, datetime(2024, 3, 10, 8, 30, tzinfo=UTC)),  # DST day, after the change
        ("2024-11-03 08:30:00", CHICAGO, datetime(2024, 11, 3, 14, 30, tzinfo=UTC)),  # back to CST that day
        ("2024-01-15T10:39:38", "Europe/London", datetime(2024, 1, 15, 10, 39, 38, tzinfo=UTC)),
    ],
)
def test_data_times(text, zone, expected):
    parsed = parse_data_time(text, zone)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "zone", "why"),
    [
        ("2024-01-15 10:39:38", None, "no UTC offset and no timezone is configured"),
        ("2024-03-10 02:30:00", CHICAGO, "does not exist in America/Chicago"),
        ("2024-11-03 01:30:00", CHICAGO, "is ambiguous in America/Chicago"),
        ("2024-01-15", CHICAGO, "with a time of day"),
        ("15/01/2024 10:39:38", CHICAGO, "not ISO-8601"),
        ("2024-01-15 25:61:00", CHICAGO, "not ISO-8601"),
        ("20240115", None, "outside 2000-2100"),  # a date read as epoch seconds would be 1970
        ("0", None, "outside 2000-2100"),
        ("1705336778123456", None, "as epoch milliseconds is outside"),  # microseconds are not accepted
        ("2150-01-01T00:00:00Z", None, "outside 2000-2100"),
        ("0001-01-01T00:00:00+01:00", None, "outside 2000-2100"),
        ("9999-12-31 23:00:00", CHICAGO, "outside 2000-2100"),
        ("1999-12-31T23:59:59Z", None, "outside 2000-2100"),
        ("-1705336778", None, "not ISO-8601"),
        ("", CHICAGO, "empty"),
    ],
)
def test_data_times_refused(text, zone, why):
    with pytest.raises(ValueError, match=why):
        parse_data_time(text, zone)


def test_a_bad_timezone_name_is_a_configuration_error():
    with pytest.raises(ValueError, match="unknown time zone 'America/Chicag'"):
        resolve_timezone("America/Chicag")
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_market(market("ZN,1,1,1,1,2024-01-15 10:00:00"), timezone="Nowhere/Else")


# ---------------------------------------------------------------------------------------------------
# Market data
# ---------------------------------------------------------------------------------------------------


def test_market_csv_read_robustly():
    body = (
        "\ufeff Instrument , PRICE,bid,ask,volume,timestamp,exchange,note,\r\n"
        'ZN,112.5,112.484375,112.5,15234,2024-01-15 10:39:38,XCME,"quoted, with a comma",\r\n'
        "\r\n"
        ",,,,,,,,\r\n"
        '"ES 2024-03 C4800",35.25,35,35.5,120,2024-01-15 10:39:38.5,XCME,"two\r\nlines",\r\n'
        "ZF, 108.25 ,,,0,1705336778000,XCME,,\r\n"
        "\r\n\r\n\r\n"
    ).encode()
    parsed = parse_market(body, timezone=CHICAGO)
    assert parsed.kind is FileKind.MARKET
    assert parsed.columns == ("Instrument", "PRICE", "bid", "ask", "volume", "timestamp", "exchange", "note")
    assert parsed.source_rows == 3
    assert parsed.duplicates_dropped == 0
    zn, option, zf = parsed.rows
    assert zn == MarketRow(
        "ZN",
        Decimal("112.5"),
        Decimal("112.484375"),
        Decimal("112.5"),
        15234,
        datetime(2024, 1, 15, 16, 39, 38, tzinfo=UTC),
        {"exchange": "XCME", "note": "quoted, with a comma"},
    )
    assert (zn.line, option.line, zf.line) == (2, 5, 7)
    assert option.instrument == "ES 2024-03 C4800"
    assert option.extra["note"] == "two\r\nlines"
    assert (zf.price, zf.bid, zf.ask, zf.volume) == (Decimal("108.25"), None, None, 0)


def test_exact_repeats_are_dropped_and_counted():
    row = "ZN,112.5,112.484375,112.5,15234,2024-01-15T16:39:38Z"
    same_instant = "ZN,112.5,112.484375,112.5,15234,1705336778"
    parsed = parse_market(market(row, same_instant, row, "ZF,108.25,108.25,108.2578125,1,1705336778"))
    assert [r.instrument for r in parsed.rows] == ["ZN", "ZF"]
    assert (parsed.source_rows, parsed.duplicates_dropped) == (4, 2)


@pytest.mark.parametrize(
    ("body", "why", "line", "column"),
    [
        (
            market("ZN,1,1,1,1,1705336778", header="instrument,bid,ask,volume,timestamp,price2"),
            "missing required column(s) price (header: instrument, bid, ask, volume, timestamp, price2)",
            1,
            "price",
        ),
        (
            market("ZN,1,1,1,1", header="instrument,price,bid,ask,volume"),
            "missing required column(s) timestamp",
            1,
            "timestamp",
        ),
        (market("ZN,abc,1,1,1,1705336778"), "price 'abc' is not a number", 2, "price"),
        (market("ZN,1,1,1,1,1705336778", "ZF,NaN,1,1,1,1705336778"), "price 'NaN' is not a finite number", 3, "price"),
        (market("ZN,inf,1,1,1,1705336778"), "not a finite number", 2, "price"),
        (market("ZN,,1,1,1,1705336778"), "price is empty", 2, "price"),
        (market("ZN,1,nan,1,1,1705336778"), "bid 'nan' is not a finite number", 2, "bid"),
        (market("ZN,1,1,1,-5,1705336778"), "volume '-5' is negative", 2, "volume"),
        (market("ZN,1,1,1,2.5,1705336778"), "volume '2.5' is not a whole number", 2, "volume"),
        (market("ZN,1,1,1,,1705336778"), "volume is empty", 2, "volume"),
        (market("ZN,1,1,1,1,"), "timestamp is empty", 2, "timestamp"),
        (market("ZN,1,1,1,1,yesterday"), "timestamp 'yesterday'", 2, "timestamp"),
        (market("ZN,1,1,1,1,2024-01-15 10:39:38"), "no timezone is configured", 2, "timestamp"),
        (market(",1,1,1,1,1705336778"), "instrument is empty", 2, "instrument"),
        (
            market("ZN,1,1,1,1,1705336778", "ZN,2,1,1,1,1705336778000"),
            "instrument 'ZN' at 2024-01-15T16:39:38+00:00 appears twice with different values (line 2 and line 3)",
            3,
            "timestamp",
        ),
        (b"", "empty file", None, None),
        (b"\xef\xbb\xbf \r\n\r\n", "empty file", None, None),
        (market(), "no data rows (header only)", None, None),
        (market("", ""), "no data rows (header only)", None, None),
        (market("ZN,1,1,1,1,1705336778,extra"), "row has 7 fields, the header has 6", 2, None),
        (market("ZN,1,1,1,1"), "row has 5 fields, the header has 6", 2, None),
        (market('ZN,1,1,1,1,"1705336778'), "not a well-formed CSV", 2, None),
        (market("ZN,1,1,1,1,1705336778", header=HEADER + ",price"), "column 'price' appears twice", 1, "price"),
        (market("ZN,1,1,1,1,1705336778,x", header=HEADER + ","), "under a column with no name", 2, None),
        (market("ZN,1,1,1,1,1705336778,x", header=HEADER + ",note").replace(b",x", b",\x00"), "NUL byte", 2, None),
        ("instrument,price,bid,ask,volume,timestamp\nZN,1,1,1,1,1705336778\n".encode("utf-16"), "not UTF-8", 1, None),
        (
            market("ZN,1,1,1,1,1705336778", "Z\xc9,1,1,1,1,1705336778").replace(b"\xc3\x89", b"\xc9"),
            "not UTF-8",
            3,
            None,
        ),
    ],
)
def test_malformed_market_files_are_refused_whole(body, why, line, column):
    error = refused(parse_market, body)
    assert why in error.reason
    assert (error.line, error.column) == (line, column)
    assert str(error).startswith(f"line {line}") if line is not None else str(error) == error.reason


def test_malformed_file_describes_itself_for_the_quarantine_note():
    error = refused(parse_market, market("ZN,1,1,1,1,1705336778", "ZF,NaN,1,1,1,1705336778"))
    assert str(error) == "line 3, column 'price': price 'NaN' is not a finite number"
    note = json.loads(json.dumps(error.as_dict()))
    assert note == {
        "reason": "price 'NaN' is not a finite number",
        "line": 3,
        "column": "price",
        "message": "line 3, column 'price': price 'NaN' is not a finite number",
    }
    assert isinstance(error, ValueError)


def test_row_limit():
    rows = [f"ZN,1,1,1,1,{1705336778 + i}" for i in range(5)]
    assert len(parse_market(market(*rows), max_rows=5).rows) == 5
    error = refused(parse_market, market(*rows, "ZN,1,1,1,1,1705336000"), max_rows=5)
    assert (error.reason, error.line) == ("more than 5 data rows: refused, not truncated", 7)
    assert MAX_ROWS == 1_000_000


# ---------------------------------------------------------------------------------------------------
# EOD and SOD
# ---------------------------------------------------------------------------------------------------

EOD_HEADER = "instrument,account,position,settlement_price,delta,gamma,vega,theta"


def test_eod_with_a_date_column_and_without():
    with_date = f"date,{EOD_HEADER},book\n2024-01-15,ZN 2024-03 C112,FRGM01,-10,0.1,-4.25,0.0000001,-1.5,0.125,rates\n"
    row = parse_eod(with_date.encode(), day=DAY).rows[0]
    assert (row.day, row.instrument, row.account) == (DAY, "ZN 2024-03 C112", "FRGM01")
    assert (row.position, row.settlement_price, row.delta) == (Decimal(-10), Decimal("0.1"), Decimal("-4.25"))
    assert (row.gamma, row.vega, row.theta) == (Decimal("1E-7"), Decimal("-1.5"), Decimal("0.125"))
    assert row.extra == {"book": "rates"}
    assert parse_eod(with_date.encode()).rows[0].day == DAY  # the column alone is enough
    without = f"{EOD_HEADER}\nZN,FRGM01,5,112.5,5,0,0,0\nZN,FRGM02,-5,112.5,-5,0,0,0\n".encode()
    assert [r.day for r in parse_eod(without, day=DAY).rows] == [DAY, DAY]
    with pytest.raises(ValueError, match="needs the file's day"):
        parse_eod(without)


@pytest.mark.parametrize(
    ("body", "why", "line", "column"),
    [
        (
            f"date,{EOD_HEADER}\n2024-01-12,ZN,A,1,1,1,0,0,0\n",
            "date 2024-01-12 is not the file's day 2024-01-15",
            2,
            "date",
        ),
        (f"date,{EOD_HEADER}\n01/15/2024,ZN,A,1,1,1,0,0,0\n", "is not a date YYYY-MM-DD", 2, "date"),
        (f"{EOD_HEADER}\nZN,A,1,1,NaN,0,0,0\n", "delta 'NaN' is not a finite number", 2, "delta"),
        (f"{EOD_HEADER}\nZN,A,1,1,1,0,,0\n", "vega is empty", 2, "vega"),
        (f"{EOD_HEADER}\nZN,,1,1,1,0,0,0\n", "account is empty", 2, "account"),
        (
            f"{EOD_HEADER}\nZN,A,1,1,1,0,0,0\nZN,A,2,1,2,0,0,0\n",
            "account 'A' in 'ZN' on 2024-01-15 appears twice with different values",
            3,
            "instrument",
        ),
        ("instrument,account,position,settlement_price,delta\nZN,A,1,1,1\n", "gamma, vega, theta", 1, "gamma"),
    ],
)
def test_malformed_eod_files(body, why, line, column):
    error = refused(parse_eod, body.encode(), day=DAY)
    assert why in error.reason
    assert (error.line, error.column) == (line, column)


SOD_HEADER = "account_date,instrument,account,position,avg_price"


def test_sod_rows():
    body = f"{SOD_HEADER}\n2024-01-15,ES,FRGM01,-3,4801.25\n2024-01-15,ES,FRGM02,7,4799.75\n".encode()
    rows = parse_sod(body, day=DAY).rows
    assert [(r.account_date, r.account, r.position, r.avg_price) for r in rows] == [
        (DAY, "FRGM01", Decimal(-3), Decimal("4801.25")),
        (DAY, "FRGM02", Decimal(7), Decimal("4799.75")),
    ]


@pytest.mark.parametrize(
    ("body", "why", "column"),
    [
        (
            f"{SOD_HEADER}\n2024-01-14,ES,A,1,1\n",
            "account_date 2024-01-14 is not the file's day 2024-01-15",
            "account_date",
        ),
        (f"{SOD_HEADER}\n2024-02-30,ES,A,1,1\n", "is not a real date", "account_date"),
        (f"{SOD_HEADER}\n20240115,ES,A,1,1\n", "is not a date YYYY-MM-DD", "account_date"),
        (f"{SOD_HEADER}\n2024-01-15,ES,A,1,Infinity\n", "avg_price 'Infinity' is not a finite number", "avg_price"),
        (f"{SOD_HEADER}\n2024-01-15,ES,A,one,1\n", "position 'one' is not a number", "position"),
    ],
)
def test_malformed_sod_files(body, why, column):
    error = refused(parse_sod, body.encode(), day=DAY)
    assert why in error.reason
    assert (error.line, error.column) == (2, column)


# ---------------------------------------------------------------------------------------------------
# TT working orders
# ---------------------------------------------------------------------------------------------------


def order(**changes) -> dict:
    base = {
        "id": "12345",
        "instrument": "ZN",
        "side": "BUY",
        "qty": 10,
        "price": 112.515625,
        "status": "WORKING",
        "updated_at": "2024-01-15T16:39:38Z",
    }
    return {key: value for key, value in {**base, **changes}.items() if value is not ...}


def orders(*items: object) -> bytes:
    return json.dumps(list(items)).encode()


def test_working_orders():
    body = orders(
        order(account="FRGM01", fills=[{"qty": 2, "price": 0.1}]),
        order(id=12346, side="sell", qty=5, price=0.1, updated_at=1705320030123),
        order(id=..., order_id="777", price=None, status="TRIGGERED"),
    )
    parsed = parse_orders(body)
    first, second, third = parsed.rows
    assert first.order_id == "12345"
    assert first.price == Decimal("112.515625")
    assert first.extra == {"account": "FRGM01", "fills": [{"qty": 2, "price": Decimal("0.1")}]}
    assert (second.order_id, second.side, second.qty, second.price) == ("12346", "SELL", 5, Decimal("0.1"))
    assert second.updated_at == datetime(2024, 1, 15, 12, 0, 30, 123_000, tzinfo=UTC)
    assert (third.order_id, third.price) == ("777", None)
    assert parse_orders(json.dumps([second.to_json_dict(), third.to_json_dict()]).encode()).rows == (second, third)
    assert first.to_json_dict() == {
        "id": "12345",
        "order_id": "12345",
        "instrument": "ZN",
        "side": "BUY",
        "qty": 10,
        "price": "112.515625",
        "status": "WORKING",
        "updated_at": "2024-01-15T16:39:38Z",
        "account": "FRGM01",
        "fills": [{"qty": 2, "price": "0.1"}],
    }
    assert parse_orders(b"[]").rows == ()
    assert len(parse_orders(json.dumps({"orders": [order()]}).encode()).rows) == 1
    repeated = parse_orders(orders(order(), order()))
    assert (len(repeated.rows), repeated.duplicates_dropped) == (1, 1)


@pytest.mark.parametrize(
    ("body", "why", "column"),
    [
        (b"", "empty file", None),
        (b"[{]", "not valid JSON", None),
        (b'{"status": "ok"}', "expected a JSON list of orders", None),
        (b'[{"id": 1, "price": NaN}]', "JSON constant NaN is not a finite number", None),
        (b'[{"id": 1, "price": -Infinity}]', "JSON constant -Infinity", None),
        (orders("12345"), "order #0 is a str, not an object", None),
        (orders(order(side="HOLD")), "'HOLD' is neither BUY nor SELL", "side"),
        (orders(order(qty=0)), "qty 0 is not a whole number above zero", "qty"),
        (orders(order(qty=-3)), "not a whole number above zero", "qty"),
        (orders(order(qty=2.5)), "not a whole number above zero", "qty"),
        (orders(order(qty=True)), "qty must be a number", "qty"),
        (orders(order(price="abc")), "price 'abc' is not a number", "price"),
        (orders(order(price="NaN")), "price 'NaN' is not a finite number", "price"),
        (orders(order(status="")), "status must be a non-empty string", "status"),
        (orders(order(instrument=None)), "instrument must be a non-empty string", "instrument"),
        (orders(order(updated_at=...)), "order #0 (id 12345): updated_at is missing", "updated_at"),
        (orders(order(id=...)), "id is missing", "id"),
        (orders(order(order_id="999")), "differs from order_id", "id"),
        (orders(order(updated_at="2024-01-15 10:39:38")), "no timezone is configured", "updated_at"),
        (orders(order(updated_at=None)), "must be ISO-8601 or epoch", "updated_at"),
        (
            orders(order(), order(id="2"), order(qty=11)),
            "order id '12345' appears twice with different values (order #0 and order #2)",
            "id",
        ),
    ],
)
def test_malformed_working_orders(body, why, column):
    error = refused(parse_orders, body)
    assert why in error.reason
    assert error.column == column


def test_json_syntax_errors_name_the_line():
    error = refused(parse_orders, b'[\n  {"id": 1},\n  {"id": 2,}\n]')
    assert error.line == 3


def test_parse_file_dispatches_by_kind():
    assert parse_file(FileKind.MARKET, market("ZN,1,1,1,1,1705336778")).kind is FileKind.MARKET
    eod = f"{EOD_HEADER}\nZN,A,1,1,1,0,0,0\n".encode()
    assert parse_file(FileKind.EOD, eod, day=DAY).rows[0].day == DAY
    assert parse_file(FileKind.SOD, f"{SOD_HEADER}\n2024-01-15,ES,A,1,1\n".encode(), day=DAY).kind is FileKind.SOD
    assert parse_file(FileKind.ORDERS, b"[]").kind is FileKind.ORDERS


# ---------------------------------------------------------------------------------------------------
# The sample Actant generator
# ---------------------------------------------------------------------------------------------------


def test_sample_day_routes_and_parses_end_to_end():
    files = actant.sample_desk_day()
    assert files == actant.sample_desk_day()  # deterministic
    assert len({key for key, _ in files}) == len(files)
    kinds = {FileKind.MARKET: 0, FileKind.EOD: 0, FileKind.SOD: 0}
    for key, body in files:
        landed = route(key)
        assert isinstance(landed, LandedFile), landed
        assert landed.day == actant.SAMPLE_DESK_DAY
        parsed = parse_file(landed.kind, body, day=landed.day, timezone=ACTANT_TIMEZONE)
        assert parsed.rows
        assert parsed.duplicates_dropped == 0
        kinds[landed.kind] += 1
    assert kinds == {FileKind.MARKET: 4 * 82, FileKind.EOD: 1, FileKind.SOD: 1}
    assert files[0][0].startswith("sod/")
    assert files[-1][0].startswith("eod/")


def test_sample_instruments_are_realistic():
    instruments = actant.sample_instruments()
    assert set(instruments) == {"ZN", "ZF", "ZB", "ES"}
    assert "ES 2026-12 C5900" in instruments["ES"]
    assert "ZN 2026-12 P110" in instruments["ZN"]
    assert actant.sample_instruments(DAY)["ES"][1] == "ES 2024-03 C5900"
    key, body = actant.sample_market_file("ZN", DAY, time(10, 39))
    assert key.startswith("market-data/2024/01/15/GE_XCME.ZN_20240115_1035")
    rows = parse_market(body, timezone=ACTANT_TIMEZONE).rows
    assert [row.instrument for row in rows] == ["ZN", "ZN 2024-03 C111", "ZN 2024-03 P110"]
    future = rows[0]
    assert future.price % Decimal("0.015625") == 0  # whole 64ths
    assert future.bid < future.ask
    assert future.bid <= future.price <= future.ask
    assert future.extra == {"exchange": "XCME"}


@pytest.mark.parametrize("style", ["offset", "epoch_ms"])
def test_sample_time_styles_give_the_same_instants(style):
    local = actant.sample_market_files(actant.SAMPLE_DESK_DAY, every=timedelta(hours=1), roots=("ES",))
    other = actant.sample_market_files(
        actant.SAMPLE_DESK_DAY, every=timedelta(hours=1), roots=("ES",), time_style=style
    )
    assert [key for key, _ in local] == [key for key, _ in other]
    for (_, a), (_, b) in zip(local, other, strict=True):
        assert parse_market(a, timezone=ACTANT_TIMEZONE).rows == parse_market(b).rows  # no zone needed


def test_sample_market_times_are_chicago():
    key, body = actant.sample_market_files(roots=("ZN",))[0]
    assert key.endswith(".csv")
    assert "_20261120_0830" in key
    landed_local = datetime.strptime(key.rsplit("_", 2)[-2] + key.rsplit("_", 1)[-1][:6], "%Y%m%d%H%M%S")
    for row in parse_market(body, timezone=ACTANT_TIMEZONE).rows:
        lag = actant.utc(landed_local) - row.timestamp
        assert timedelta(0) < lag <= timedelta(seconds=3)  # the data's time, before the file landed
        assert row.timestamp.hour == 14  # 08:30 CST is 14:30 UTC


def test_sample_sod_is_the_previous_weekdays_eod():
    monday = date(2026, 11, 23)
    _, eod = actant.sample_eod_file(date(2026, 11, 20))
    _, sod = actant.sample_sod_file(monday)
    closing = {(r.account, r.instrument): r.position for r in parse_eod(eod, day=date(2026, 11, 20)).rows}
    opening = {(r.account, r.instrument): r.position for r in parse_sod(sod, day=monday).rows}
    assert opening == closing


def test_sample_eod_without_a_date_column_takes_the_files_day():
    key, body = actant.sample_eod_file(DAY, with_date_column=False)
    landed = route(key)
    assert isinstance(landed, LandedFile)
    assert landed.kind is FileKind.EOD
    assert {row.day for row in parse_eod(body, day=landed.day).rows} == {DAY}


def test_sample_large_file():
    key, body = actant.sample_large_market_file(10_000)
    assert isinstance(route(key), LandedFile)
    parsed = parse_market(body, timezone=ACTANT_TIMEZONE)
    assert len(parsed.rows) == 10_000
    assert parsed.duplicates_dropped == 0


EXPECTED_MALFORMED = {
    "missing_column": ("missing required column(s) price", 1),
    "nan_price": ("price 'NaN' is not a finite number", 3),
    "bad_timestamp": ("timestamp '2026-11-20 25:61:00' is not ISO-8601", 3),
    "empty": ("empty file", None),
    "negative_volume": ("volume '-80211' is negative", 3),
    "conflicting_duplicate": ("appears twice with different values (line 2 and line 5)", 5),
    "not_utf8": ("not UTF-8", 3),
    "header_only": ("no data rows (header only)", None),
}


@pytest.mark.parametrize("kind", actant.MALFORMED_KINDS)
def test_sample_malformed_files_are_refused_with_their_reason(kind):
    key, body = actant.sample_malformed_file(kind)
    landed = route(key)
    assert isinstance(landed, LandedFile)
    assert landed.kind is FileKind.MARKET
    error = refused(parse_market, body, timezone=ACTANT_TIMEZONE)
    why, line = EXPECTED_MALFORMED[kind]
    assert why in error.reason
    assert error.line == line


def test_sample_malformed_keys_never_collide_with_good_ones():
    good = {key for key, _ in actant.sample_desk_day()}
    bad = {key for key, _ in actant.sample_malformed_files().values()}
    assert len(bad) == len(actant.MALFORMED_KINDS)
    assert not good & bad
    assert set(EXPECTED_MALFORMED) == set(actant.MALFORMED_KINDS)
