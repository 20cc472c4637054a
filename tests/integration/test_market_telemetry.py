"""Market telemetry end to end: the local Alpha Vantage sample server, the real client, PostgreSQL and SQLite.

No mocks: faults are scripted on the sample server, rows are read back from the real databases.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ops_assets.markets.telemetry import OK, ingest_bars
from resources.alpha_vantage import AlphaVantageDailyQuotaError, AlphaVantageResource, AlphaVantageRunError
from resources.central_schema import lane_telemetry
from resources.central_store import CentralStore
from resources.market_data import AlphaVantageMarketData, Bar, history_months, parse_intraday
from resources.sample_sources.alpha_vantage import ERROR_TICKER, ORDINARY_TICKER, SPLIT_TICKER
from resources.sample_sources.server import AlphaVantageSampleServer
from resources.secrets import StaticSecrets

pytestmark = pytest.mark.integration

TICKERS = (ORDINARY_TICKER, SPLIT_TICKER)
# The sample's compact answer is the last 100 bars of 2026-11-20 (EST, UTC-5): 11:40-19:55 New York time,
# i.e. 16:40 UTC on the 20th to 00:55 UTC on the 21st, 88 bars on the 20th (UTC) and 12 on the 21st.
FIRST_BAR = datetime(2026, 11, 20, 16, 40, tzinfo=UTC)
LAST_BAR = datetime(2026, 11, 21, 0, 55, tzinfo=UTC)
AFTER_ALL = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def intraday(rows: dict[str, dict[str, str]], time_zone: str | None = "US/Eastern") -> dict[str, Any]:
    meta = {"1. Information": "Intraday (5min) open, high, low, close prices and volume", "2. Symbol": "TEST"}
    if time_zone is not None:
        meta["6. Time Zone"] = time_zone
    return {"Meta Data": meta, "Time Series (5min)": rows}


def row(o: str = "10.0000", h: str = "10.5000", lo: str = "9.5000", c: str = "10.2500", v: str = "1200") -> dict:
    return {"1. open": o, "2. high": h, "3. low": lo, "4. close": c, "5. volume": v}


# ------------------------------------------------------------------------------------------------- parse


def test_parse_converts_eastern_time_to_utc_across_dst() -> None:
    payload = intraday(
        {
            "2026-03-09 09:30:00": row(),  # the day after the spring switch: EDT, UTC-4
            "2026-01-15 09:30:00": row(c="10.1000"),  # EST, UTC-5
            "2026-03-06 09:30:00": row(),  # the Friday before the switch: still EST
        }
    )
    bars = parse_intraday(payload, "AXQT")
    assert [b.ts for b in bars] == [  # oldest first, whatever order the answer used
        datetime(2026, 1, 15, 14, 30, tzinfo=UTC),
        datetime(2026, 3, 6, 14, 30, tzinfo=UTC),
        datetime(2026, 3, 9, 13, 30, tzinfo=UTC),
    ]
    assert bars[0] == Bar("AXQT", datetime(2026, 1, 15, 14, 30, tzinfo=UTC), 10.0, 10.5, 9.5, 10.1, 1200.0)
    assert all(b.ts.utcoffset() == timedelta(0) for b in bars)


def test_parse_uses_the_answers_time_zone_and_defaults_to_eastern() -> None:
    stamp = {"2026-07-01 12:00:00": row()}
    assert parse_intraday(intraday(stamp, "UTC"), "X")[0].ts == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert parse_intraday(intraday(stamp, None), "X")[0].ts == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_intraday(intraday(stamp, "Mars/Olympus"), "X")


@pytest.mark.parametrize(
    ("bad_row", "match"),
    [
        (row(c="None"), "no usable close"),
        (row(v="abc"), "no usable volume"),
        ({"1. open": "1", "2. high": "1", "3. low": "1", "4. close": "1"}, "no usable volume"),
        (row(o="-1"), "impossible open"),
        (row(c="nan"), "impossible close"),
        (row(h="9.9000"), "inconsistent"),
        ("10.0", "not an object"),
    ],
)
def test_parse_rejects_a_bad_row_naming_ticker_and_row(bad_row: object, match: str) -> None:
    payload = intraday({"2026-01-15 09:30:00": row(), "2026-01-15 09:35:00": bad_row})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=match) as info:
        parse_intraday(payload, "AXQT")
    assert "AXQT" in str(info.value)
    assert "2026-01-15 09:35:00" in str(info.value)


def test_parse_rejects_bad_timestamps_and_missing_series() -> None:
    with pytest.raises(ValueError, match="AXQT: bar '15/01/2026 09:30'"):
        parse_intraday(intraday({"15/01/2026 09:30": row()}), "AXQT")
    with pytest.raises(ValueError, match="does not exist"):  # inside the spring-forward gap
        parse_intraday(intraday({"2026-03-08 02:30:00": row()}), "AXQT")
    with pytest.raises(ValueError, match=r"AXQT: the intraday answer has no 'Time Series \(5min\)'"):
        parse_intraday({"Meta Data": {}, "Time Series (Daily)": {}}, "AXQT")


# ------------------------------------------------------------------------------------------------- ingest


@pytest.fixture
def server() -> Iterator[AlphaVantageSampleServer]:
    with AlphaVantageSampleServer(invalid_keys=frozenset({"bad-key"})) as av:
        yield av


def provider(server: AlphaVantageSampleServer, key: str = "test-key") -> AlphaVantageMarketData:
    client = AlphaVantageResource(
        base_url=server.url,
        secrets=StaticSecrets(values={"alpha-vantage-api-key": key}),
        requests_per_minute=60_000,
        max_attempts=2,
        backoff_initial_seconds=0.01,
        backoff_max_seconds=0.02,
    )
    return AlphaVantageMarketData(alpha_vantage=client)


def stored(store: CentralStore, ticker: str | None = None) -> list[sa.Row]:
    query = sa.select(lane_telemetry).order_by(lane_telemetry.c.ticker, lane_telemetry.c.ts)
    if ticker is not None:
        query = query.where(lane_telemetry.c.ticker == ticker)
    with store.connect() as conn:
        return list(conn.execute(query))


def test_ingest_writes_every_ticker_in_utc(store: CentralStore, server: AlphaVantageSampleServer) -> None:
    summary = ingest_bars(store, provider(server), TICKERS, now=AFTER_ALL)

    assert summary.per_ticker == {ORDINARY_TICKER: OK, SPLIT_TICKER: OK}
    assert summary.failed == {}
    assert summary.bars_written == 200
    rows = stored(store, ORDINARY_TICKER)
    assert len(rows) == 100
    assert (rows[0].ts, rows[-1].ts) == (FIRST_BAR, LAST_BAR)
    assert {r.source for r in rows} == {"alpha_vantage"}
    requests = [r for r in server.requests if r.function == "TIME_SERIES_INTRADAY"]
    assert {(r.symbol, r.params["interval"], r.params["outputsize"]) for r in requests} == {
        (ORDINARY_TICKER, "5min", "compact"),
        (SPLIT_TICKER, "5min", "compact"),
    }


def test_reingest_is_idempotent_and_revises_a_forming_bar(
    store: CentralStore, server: AlphaVantageSampleServer
) -> None:
    market = provider(server)
    ingest_bars(store, market, TICKERS, now=AFTER_ALL)
    before = stored(store)

    again = ingest_bars(store, market, TICKERS, now=AFTER_ALL)
    after = stored(store)
    assert again.per_ticker == {ORDINARY_TICKER: OK, SPLIT_TICKER: OK}
    assert len(after) == len(before) == 200
    strip = [(r.ticker, r.ts, r.open, r.high, r.low, r.close, r.volume) for r in after]
    assert strip == [(r.ticker, r.ts, r.open, r.high, r.low, r.close, r.volume) for r in before]

    # The next poll sees the last bar with its final values: the stored bar is overwritten, not duplicated.
    payload = copy.deepcopy(
        server.data.response(
            "TIME_SERIES_INTRADAY", {"symbol": ORDINARY_TICKER, "interval": "5min", "outputsize": "compact"}
        )
    )
    last = payload["Time Series (5min)"]["2026-11-20 19:55:00"]
    last["4. close"] = last["2. high"]
    last["5. volume"] = "987654"
    server.inject(payload, function="TIME_SERIES_INTRADAY", symbol=ORDINARY_TICKER)
    ingest_bars(store, market, TICKERS, now=AFTER_ALL)

    revised = stored(store, ORDINARY_TICKER)
    assert len(stored(store)) == 200
    assert revised[-1].ts == LAST_BAR
    assert revised[-1].close == float(last["2. high"])
    assert revised[-1].volume == 987654.0
    assert revised[-1].ingested_at > before[99].ingested_at
    assert [r.close for r in revised[:-1]] == [r.close for r in before[:99]]


def test_error_ticker_is_recorded_while_the_others_ingest(
    store: CentralStore, server: AlphaVantageSampleServer
) -> None:
    summary = ingest_bars(store, provider(server), [ORDINARY_TICKER, ERROR_TICKER, SPLIT_TICKER], now=AFTER_ALL)

    assert summary.per_ticker[ORDINARY_TICKER] == OK
    assert summary.per_ticker[SPLIT_TICKER] == OK
    assert list(summary.failed) == [ERROR_TICKER]
    assert summary.failed[ERROR_TICKER].startswith("error:")
    assert "Invalid API call" in summary.failed[ERROR_TICKER]
    assert summary.bars_written == 200
    assert stored(store, ERROR_TICKER) == []


def test_malformed_row_fails_only_that_ticker(store: CentralStore, server: AlphaVantageSampleServer) -> None:
    payload = copy.deepcopy(server.data.response("TIME_SERIES_INTRADAY", {"symbol": SPLIT_TICKER, "interval": "5min"}))
    payload["Time Series (5min)"]["2026-11-20 15:00:00"]["4. close"] = "not-a-price"
    server.inject(payload, function="TIME_SERIES_INTRADAY", symbol=SPLIT_TICKER)

    summary = ingest_bars(store, provider(server), TICKERS, now=AFTER_ALL)

    assert summary.per_ticker[ORDINARY_TICKER] == OK
    assert SPLIT_TICKER in summary.failed
    assert "2026-11-20 15:00:00" in summary.failed[SPLIT_TICKER]
    assert "close" in summary.failed[SPLIT_TICKER]
    assert len(stored(store, ORDINARY_TICKER)) == 100
    assert stored(store, SPLIT_TICKER) == []  # nothing half-parsed from the bad answer


def test_bars_starting_after_now_are_dropped(store: CentralStore, server: AlphaVantageSampleServer) -> None:
    now = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    summary = ingest_bars(store, provider(server), [ORDINARY_TICKER], now=now)

    rows = stored(store)
    assert summary.bars_written == len(rows) == 17  # 16:40 ... 18:00, the bar starting at `now` included
    assert rows[-1].ts == now
    with pytest.raises(ValueError, match="timezone-aware"):
        ingest_bars(store, provider(server), [ORDINARY_TICKER], now=now.replace(tzinfo=None))


def test_day_filter_keeps_one_utc_day(store: CentralStore, server: AlphaVantageSampleServer) -> None:
    market = provider(server)
    first = ingest_bars(store, market, [ORDINARY_TICKER], now=AFTER_ALL, day=date(2026, 11, 20))
    assert first.bars_written == 88
    assert {r.ts.date() for r in stored(store)} == {date(2026, 11, 20)}

    # The evening session in New York is already the next day in UTC.
    second = ingest_bars(store, market, [ORDINARY_TICKER], now=AFTER_ALL, day=date(2026, 11, 21))
    assert second.bars_written == 12
    assert len(stored(store)) == 100

    empty = ingest_bars(store, market, [ORDINARY_TICKER], now=AFTER_ALL, day=date(2026, 11, 19))
    assert empty.per_ticker == {ORDINARY_TICKER: OK}
    assert empty.bars_written == 0


def test_run_error_propagates_and_writes_nothing(store: CentralStore, server: AlphaVantageSampleServer) -> None:
    with pytest.raises(AlphaVantageRunError):
        ingest_bars(store, provider(server, key="bad-key"), TICKERS, now=AFTER_ALL)
    assert stored(store) == []


def test_daily_quota_propagates_after_writing_what_was_fetched(store: CentralStore) -> None:
    with AlphaVantageSampleServer(daily_limit=1) as limited, pytest.raises(AlphaVantageDailyQuotaError):
        ingest_bars(store, provider(limited), TICKERS, now=AFTER_ALL)
    assert len(stored(store, ORDINARY_TICKER)) == 100
    assert stored(store, SPLIT_TICKER) == []


# ------------------------------------------------------------------------------------------------- backfills


def test_a_backfill_reads_the_day_from_the_months_history(
    store: CentralStore, server: AlphaVantageSampleServer
) -> None:
    # 2026-11-13 is older than any live answer (the last 5 trading days, compact: the last 100 bars).
    day = date(2026, 11, 13)
    end = datetime(2026, 11, 14, tzinfo=UTC)
    summary = ingest_bars(store, provider(server), TICKERS, now=end, day=day, from_history=True)

    assert summary.failed == {}
    rows = stored(store, ORDINARY_TICKER)
    # 04:00-20:00 New York (EST) is 09:00 UTC on the 13th to 01:00 UTC on the 14th: 180 bars fall on the 13th,
    # plus the 12th's last 12 evening bars (00:00-00:55 UTC on the 13th).
    assert len(rows) == 192
    assert {r.ts.date() for r in rows} == {day}
    assert rows[0].ts == datetime(2026, 11, 13, 0, 0, tzinfo=UTC)
    assert rows[-1].ts == datetime(2026, 11, 13, 23, 55, tzinfo=UTC)
    requests = [r for r in server.requests if r.function == "TIME_SERIES_INTRADAY"]
    assert {(r.symbol, r.params.get("month"), r.params["outputsize"]) for r in requests} == {
        (ORDINARY_TICKER, "2026-11", "full"),
        (SPLIT_TICKER, "2026-11", "full"),
    }


def test_a_day_has_the_same_bars_from_history_as_from_the_live_answer(
    store: CentralStore, server: AlphaVantageSampleServer
) -> None:
    market = provider(server)
    ingest_bars(store, market, [ORDINARY_TICKER], now=AFTER_ALL, day=date(2026, 11, 20))
    live = [(r.ts, r.open, r.high, r.low, r.close, r.volume) for r in stored(store)]
    with store.connect() as conn:
        conn.execute(sa.delete(lane_telemetry))
        conn.commit()
    ingest_bars(store, market, [ORDINARY_TICKER], now=AFTER_ALL, day=date(2026, 11, 20), from_history=True)
    history = [(r.ts, r.open, r.high, r.low, r.close, r.volume) for r in stored(store)]
    # The live answer starts at 16:40 UTC (its last 100 bars); history has the whole day, the same bars included.
    assert len(live) == 88
    assert len(history) == 192
    assert set(live) <= set(history)


def test_the_first_of_a_month_also_reads_the_previous_months_evening(
    store: CentralStore, server: AlphaVantageSampleServer
) -> None:
    # New Year's Day: no session, but 19:00-19:55 New York time on 2024-12-31 (EST) is 00:00-00:55 UTC on the 1st.
    day = date(2025, 1, 1)
    ingest_bars(
        store, provider(server), [ORDINARY_TICKER], now=datetime(2025, 1, 2, tzinfo=UTC), day=day, from_history=True
    )

    rows = stored(store)
    assert [r.ts for r in rows] == [datetime(2025, 1, 1, 0, 5 * k, tzinfo=UTC) for k in range(12)]
    months = {r.params.get("month") for r in server.requests if r.function == "TIME_SERIES_INTRADAY"}
    assert months == {"2024-12", "2025-01"}


def test_a_month_outside_the_providers_history_fails_that_ticker_clearly(
    store: CentralStore, server: AlphaVantageSampleServer
) -> None:
    summary = ingest_bars(
        store,
        provider(server),
        [ORDINARY_TICKER],
        now=datetime(1999, 6, 2, tzinfo=UTC),
        day=date(1999, 6, 1),
        from_history=True,
    )
    assert "Invalid API call" in summary.failed[ORDINARY_TICKER]
    assert stored(store) == []


@pytest.mark.parametrize(
    ("day", "months"),
    [
        (date(2025, 1, 1), ["2024-12", "2025-01"]),  # winter: 00:00 UTC is 19:00 EST, inside extended hours
        (date(2026, 7, 1), ["2026-07"]),  # summer: 00:00 UTC is 20:00 EDT, after the last bar
        (date(2026, 11, 1), ["2026-11"]),  # DST ends that night: 00:00 UTC is still 20:00 EDT on Oct 31
        (date(2026, 12, 1), ["2026-11", "2026-12"]),
        (date(2026, 11, 13), ["2026-11"]),  # not a 1st: one month
    ],
)
def test_history_months(day: date, months: list[str]) -> None:
    assert history_months(day) == months
