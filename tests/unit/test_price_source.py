"""Daily price sources: Yahoo's chart API and Alpha Vantage over their local sample servers (real HTTP), and
the offline generator they both serve (NYSE sessions, OHLC, prefix stability, the split)."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from datetime import UTC, date, datetime

import numpy as np
import pytest

from resources.alpha_vantage import AlphaVantageResource
from resources.price_source import (
    AlphaVantagePriceSource,
    DailyBar,
    PriceHistory,
    PriceSourceError,
    PriceSourceTickerError,
    YahooChartPriceSource,
    parse_chart,
)
from resources.sample_sources.alpha_vantage import (
    ERROR_TICKER,
    ORDINARY_TICKER,
    SPLIT_DATE,
    SPLIT_FACTOR,
    SPLIT_TICKER,
    SampleAlphaVantageData,
)
from resources.sample_sources.prices import (
    SAMPLE_PRICES_END,
    SAMPLE_PRICES_START,
    SAMPLE_UNKNOWN_TICKER,
    YahooChartSampleServer,
    nyse_calendar,
    sample_daily_history,
    sample_splits,
)
from resources.sample_sources.resources import SamplePriceSource
from resources.sample_sources.server import AlphaVantageSampleServer
from resources.secrets import StaticSecrets

TICKER = "AMZN"
AV_SECRET = "alpha-vantage-api-key"


def xnys_sessions(start: date, end: date) -> list[date]:
    return [ts.date() for ts in nyse_calendar().sessions_in_range(start.isoformat(), end.isoformat())]


def split_adjusted(history: PriceHistory, splits: tuple[tuple[date, float], ...]) -> list[DailyBar]:
    """As-traded bars adjusted the way Yahoo does: every later split divides prices and multiplies volume."""
    out = []
    for bar in history.bars:
        factor = float(np.prod([ratio for day, ratio in splits if day > bar.day] or [1.0]))
        out.append(
            DailyBar(
                bar.day, bar.open / factor, bar.high / factor, bar.low / factor, bar.close / factor, bar.volume * factor
            )
        )
    return out


def assert_bars_match(got: tuple[DailyBar, ...] | list[DailyBar], want: list[DailyBar]) -> None:
    assert [b.day for b in got] == [b.day for b in want]
    for name in ("open", "high", "low", "close", "volume"):
        assert [getattr(b, name) for b in got] == pytest.approx([getattr(b, name) for b in want], rel=1e-12), name


# --------------------------------------------------------------------------------------------- Yahoo


@pytest.fixture(scope="module")
def yahoo_server() -> Iterator[YahooChartSampleServer]:
    with YahooChartSampleServer() as srv:
        yield srv


@pytest.fixture
def yahoo(yahoo_server: YahooChartSampleServer) -> YahooChartSampleServer:
    yahoo_server.reset()
    return yahoo_server


def yahoo_source(server: YahooChartSampleServer, **overrides: object) -> YahooChartPriceSource:
    config: dict[str, object] = {
        "base_url": server.base_url,
        "timeout_seconds": 5.0,
        "max_attempts": 4,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.02,
    }
    config.update(overrides)
    return YahooChartPriceSource(**config)  # type: ignore[arg-type]


def test_yahoo_fetches_a_multi_year_range_in_one_request_and_matches_the_generator(yahoo):
    source = yahoo_source(yahoo)
    history = source.daily_history(TICKER, SAMPLE_PRICES_START, SAMPLE_PRICES_END)

    [request] = yahoo.requests
    assert request.path == f"/v8/finance/chart/{TICKER}"
    assert request.params["interval"] == "1d"
    assert request.params["events"] == "split"
    assert request.params["includeAdjustedClose"] == "true"
    assert int(request.params["period1"]) < datetime(2005, 1, 3, tzinfo=UTC).timestamp()
    assert int(request.params["period2"]) > datetime(2026, 11, 28, tzinfo=UTC).timestamp()
    assert request.user_agent.startswith("Mozilla/5.0")

    generated = sample_daily_history(TICKER, SAMPLE_PRICES_START, SAMPLE_PRICES_END)
    assert len(history.bars) == len(generated.bars) > 5000
    assert_bars_match(history.bars, split_adjusted(generated, generated.splits))
    assert history.splits == generated.splits
    assert len(history.splits) == 1
    assert history.ticker == TICKER
    assert history.source == source.source == "yahoo_chart"
    payload = json.loads(history.raw)
    assert payload["chart"]["error"] is None
    assert payload["chart"]["result"][0]["meta"]["exchangeTimezoneName"] == "America/New_York"


def test_yahoo_keeps_only_the_range_and_its_splits_while_prices_stay_adjusted(yahoo):
    [(split_day, _)] = sample_splits(TICKER)
    start, end = date(split_day.year - 1, 3, 1), date(split_day.year - 1, 3, 31)  # before the split
    history = yahoo_source(yahoo).daily_history(TICKER, start, end)
    generated = sample_daily_history(TICKER, start, end)
    assert [b.day for b in history.bars] == xnys_sessions(start, end)
    assert history.splits == ()  # the split is after the range...
    assert_bars_match(history.bars, split_adjusted(generated, sample_splits(TICKER)))  # ...yet adjusts it


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 3, 2), date(2026, 3, 20)),  # New York springs forward on 2026-03-08
        (date(2026, 10, 26), date(2026, 11, 13)),  # and falls back on 2026-11-01
        (date(2025, 3, 3), date(2025, 3, 14)),
        (date(2024, 10, 28), date(2024, 11, 8)),
    ],
)
def test_yahoo_dates_are_right_across_daylight_saving_switches(yahoo, start, end):
    history = yahoo_source(yahoo).daily_history(TICKER, start, end)
    assert [b.day for b in history.bars] == xnys_sessions(start, end)
    stamps = json.loads(history.raw)["chart"]["result"][0]["timestamp"]
    hours = {datetime.fromtimestamp(s, UTC).hour for s in stamps}
    assert hours == {13, 14}  # 09:30 New York is 13:30 UTC in summer time, 14:30 in winter


def test_parse_chart_converts_with_the_exchange_zone_not_utc():
    # Sydney opens at 10:00 local time, which is 23:00 UTC the day before in summer (AEDT, UTC+11).
    stamp = int(datetime(2026, 3, 9, 23, 0, tzinfo=UTC).timestamp())  # 10:00 in Sydney on 2026-03-10
    payload = {
        "chart": {
            "result": [
                {
                    "meta": {"symbol": "BHP.AX", "exchangeTimezoneName": "Australia/Sydney"},
                    "timestamp": [stamp],
                    "indicators": {
                        "quote": [{"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5], "volume": [100]}]
                    },
                }
            ],
            "error": None,
        }
    }
    bars, splits = parse_chart(payload, "BHP.AX", date(2026, 3, 10), date(2026, 3, 10))
    assert [b.day for b in bars] == [date(2026, 3, 10)]
    assert splits == []


def test_yahoo_unknown_ticker_is_a_ticker_error_without_retry(yahoo):
    with pytest.raises(PriceSourceTickerError) as info:
        yahoo_source(yahoo).daily_history(SAMPLE_UNKNOWN_TICKER, date(2024, 1, 2), date(2024, 1, 31))
    assert info.value.scope == "ticker"
    assert info.value.ticker == SAMPLE_UNKNOWN_TICKER
    assert SAMPLE_UNKNOWN_TICKER in str(info.value)
    assert "404" in str(info.value)
    assert "No data found" in str(info.value)
    assert len(yahoo.requests) == 1


def test_yahoo_throttled_twice_then_answers(yahoo):
    yahoo.throttle(2)
    history = yahoo_source(yahoo).daily_history(TICKER, date(2024, 1, 2), date(2024, 1, 31))
    assert [b.day for b in history.bars] == xnys_sessions(date(2024, 1, 2), date(2024, 1, 31))
    assert len(yahoo.requests) == 3


def test_yahoo_server_errors_are_retried_too(yahoo):
    yahoo.throttle(1, status=503)
    history = yahoo_source(yahoo).daily_history(TICKER, date(2024, 1, 2), date(2024, 1, 5))
    assert len(history.bars) == 4
    assert len(yahoo.requests) == 2


def test_yahoo_throttled_forever_stops_the_run(yahoo):
    yahoo.throttle(1_000)
    with pytest.raises(PriceSourceError) as info:
        yahoo_source(yahoo, max_attempts=3).daily_history(TICKER, date(2024, 1, 2), date(2024, 1, 31))
    assert info.value.scope == "run"
    assert TICKER in str(info.value)
    assert "429" in str(info.value)
    assert "3 attempts" in str(info.value)
    assert len(yahoo.requests) == 3
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_yahoo_row_with_some_nulls_is_a_ticker_error(yahoo):
    day = date(2024, 1, 10)
    yahoo.blank(TICKER, day, fields=("high", "volume"))
    with pytest.raises(PriceSourceTickerError) as info:
        yahoo_source(yahoo).daily_history(TICKER, date(2024, 1, 2), date(2024, 1, 31))
    message = str(info.value)
    assert TICKER in message
    assert "2024-01-10" in message
    assert "high" in message
    assert "malformed" in message


def test_yahoo_rows_with_all_nulls_are_skipped(yahoo):
    yahoo.blank(TICKER, date(2024, 1, 10))
    yahoo.blank(TICKER, date(2024, 1, 11), fields=("open", "high", "low", "close"))  # volume 0 or null alike
    history = yahoo_source(yahoo).daily_history(TICKER, date(2024, 1, 2), date(2024, 1, 31))
    expected = [
        d for d in xnys_sessions(date(2024, 1, 2), date(2024, 1, 31)) if d not in {date(2024, 1, 10), date(2024, 1, 11)}
    ]
    assert [b.day for b in history.bars] == expected


def test_yahoo_a_range_without_sessions_is_an_empty_answer(yahoo):
    with pytest.raises(PriceSourceTickerError, match=r"AMZN: .*no daily bar between 2024-01-06 and 2024-01-07"):
        yahoo_source(yahoo).daily_history(TICKER, date(2024, 1, 6), date(2024, 1, 7))  # a weekend
    with pytest.raises(PriceSourceTickerError, match=r"AMZN: .*HTTP 400.*Data doesn't exist"):
        yahoo_source(yahoo).daily_history(TICKER, date(1999, 1, 4), date(1999, 1, 8))  # before the first session


@pytest.mark.parametrize(
    ("result", "what"),
    [
        ({"meta": {}}, "exchangeTimezoneName"),
        ({"meta": {"exchangeTimezoneName": "America/New_York"}, "timestamp": [1704205800], "indicators": {}}, "quote"),
        (
            {
                "meta": {"exchangeTimezoneName": "America/New_York"},
                "timestamp": [1704205800],
                "indicators": {"quote": [{"open": [1], "high": [1], "low": [1], "close": [1], "volume": []}]},
            },
            "'volume' is not a list as long",
        ),
        (
            {
                "meta": {"exchangeTimezoneName": "America/New_York"},
                "timestamp": [1704205800],
                "indicators": {"quote": [{"open": [1], "high": [1], "low": [-1], "close": [1], "volume": [5]}]},
            },
            "impossible values",
        ),
    ],
)
def test_parse_chart_malformed_answers_are_ticker_errors(result, what):
    payload = {"chart": {"result": [result], "error": None}}
    with pytest.raises(PriceSourceTickerError, match=r"AMZN: .*malformed") as info:
        parse_chart(payload, TICKER, date(2024, 1, 2), date(2024, 1, 3))
    assert what in str(info.value)


def test_yahoo_blocked_client_stops_the_run(yahoo):
    yahoo.throttle(1, status=403)
    with pytest.raises(PriceSourceError, match="HTTP 403") as info:
        yahoo_source(yahoo).daily_history(TICKER, date(2024, 1, 2), date(2024, 1, 31))
    assert info.value.scope == "run"
    assert len(yahoo.requests) == 1


def test_errors_survive_pickling():
    error = PriceSourceTickerError("AMZN: gone", ticker="AMZN", source="yahoo_chart")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.ticker, copy.source, copy.scope) == (
        PriceSourceTickerError,
        "AMZN: gone",
        "AMZN",
        "yahoo_chart",
        "ticker",
    )


def test_an_inverted_range_is_a_value_error(yahoo):
    with pytest.raises(ValueError, match="after end"):
        yahoo_source(yahoo).daily_history(TICKER, date(2024, 2, 1), date(2024, 1, 1))
    assert yahoo.requests == []


# --------------------------------------------------------------------------------------------- Alpha Vantage

AV_DATA = SampleAlphaVantageData()


@pytest.fixture(scope="module")
def av_server() -> Iterator[AlphaVantageSampleServer]:
    with AlphaVantageSampleServer(AV_DATA) as srv:
        yield srv


def av_source(server: AlphaVantageSampleServer, key: str = "test-key") -> AlphaVantagePriceSource:
    client = AlphaVantageResource(
        base_url=server.url,
        secrets=StaticSecrets(values={AV_SECRET: key}),
        requests_per_minute=6000,
        timeout_seconds=5.0,
        max_attempts=2,
        backoff_initial_seconds=0.01,
        backoff_max_seconds=0.02,
    )
    return AlphaVantagePriceSource(alpha_vantage=client)


def test_alpha_vantage_daily_history_keeps_the_range(av_server):
    av_server.reset()
    start, end = date(2020, 1, 1), date(2020, 12, 31)
    history = av_source(av_server).daily_history(ORDINARY_TICKER, start, end)

    assert [(r.function, r.params.get("outputsize")) for r in av_server.requests] == [
        ("TIME_SERIES_DAILY", "full"),
        ("SPLITS", None),
    ]
    series = AV_DATA.response("TIME_SERIES_DAILY", {"symbol": ORDINARY_TICKER, "outputsize": "full"})
    rows = series["Time Series (Daily)"]
    days = [d for d in AV_DATA.trading_days() if start <= d <= end]
    assert [b.day for b in history.bars] == days
    first = rows[days[0].isoformat()]
    assert history.bars[0] == DailyBar(
        days[0],
        float(first["1. open"]),
        float(first["2. high"]),
        float(first["3. low"]),
        float(first["4. close"]),
        float(first["5. volume"]),
    )
    assert history.splits == ()
    assert history.source == "alpha_vantage"
    raw = json.loads(history.raw)
    assert set(raw) == {"TIME_SERIES_DAILY", "SPLITS"}
    assert raw["TIME_SERIES_DAILY"] == series


def test_alpha_vantage_splits_in_the_range(av_server):
    history = av_source(av_server).daily_history(SPLIT_TICKER, date(2020, 8, 1), date(2020, 9, 30))
    assert history.splits == ((SPLIT_DATE, float(SPLIT_FACTOR)),)
    closes = {b.day: b.close for b in history.bars}
    before = max(d for d in closes if d < SPLIT_DATE)
    assert closes[before] / closes[SPLIT_DATE] == pytest.approx(SPLIT_FACTOR, rel=0.3)  # as traded


def test_alpha_vantage_unknown_ticker_is_a_ticker_error(av_server):
    with pytest.raises(PriceSourceTickerError) as info:
        av_source(av_server).daily_history(ERROR_TICKER, date(2020, 1, 1), date(2020, 12, 31))
    assert ERROR_TICKER in str(info.value)
    assert "Invalid API call" in str(info.value)
    assert info.value.scope == "ticker"


def test_alpha_vantage_bad_key_stops_the_run(av_server):
    with pytest.raises(PriceSourceError, match="invalid or missing") as info:
        av_source(av_server, key="bad-key").daily_history(ORDINARY_TICKER, date(2020, 1, 1), date(2020, 12, 31))
    assert info.value.scope == "run"


# --------------------------------------------------------------------------------------------- generator


def test_sample_sessions_are_the_nyse_sessions():
    history = sample_daily_history(TICKER, SAMPLE_PRICES_START, date(2030, 1, 1))
    days = [b.day for b in history.bars]
    assert days == xnys_sessions(SAMPLE_PRICES_START, SAMPLE_PRICES_END)
    assert days[0] == date(2005, 1, 3)
    assert days[-1] == SAMPLE_PRICES_END == date(2026, 11, 27)
    assert all(d.weekday() < 5 for d in days)
    november = [b.day for b in sample_daily_history(TICKER, date(2026, 11, 23), date(2026, 11, 30)).bars]
    assert november == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27)]
    assert date(2026, 11, 26) not in days  # Thanksgiving
    assert date(2025, 12, 25) not in days
    assert date(2024, 7, 4) not in days


def test_sample_half_days_trade_thinner():
    calendar = nyse_calendar()
    half_days = {ts.date() for ts in calendar.early_closes} & {date(2026, 11, 27), date(2025, 12, 24)}
    assert half_days == {date(2026, 11, 27), date(2025, 12, 24)}
    bars = {b.day: b for b in sample_daily_history(TICKER, date(2025, 1, 2), SAMPLE_PRICES_END).bars}
    median = float(np.median([b.volume for b in bars.values()]))
    assert bars[date(2026, 11, 27)].volume < median


@pytest.mark.parametrize("ticker", [TICKER, "AAPL", "MSFT", "BRK-B", "X"])
def test_sample_ohlc_is_consistent(ticker):
    history = sample_daily_history(ticker, SAMPLE_PRICES_START, SAMPLE_PRICES_END)
    for bar in history.bars:
        assert 0 < bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high, bar
        assert bar.volume > 0, bar
        assert bar.volume == int(bar.volume), bar


def test_sample_is_prefix_stable_and_deterministic():
    full = sample_daily_history(TICKER, SAMPLE_PRICES_START, SAMPLE_PRICES_END)
    early = sample_daily_history(TICKER, SAMPLE_PRICES_START, date(2010, 6, 30))
    assert full.bars[: len(early.bars)] == early.bars
    middle = sample_daily_history(TICKER, date(2015, 3, 1), date(2015, 3, 31))
    assert middle.bars == tuple(b for b in full.bars if date(2015, 3, 1) <= b.day <= date(2015, 3, 31))
    assert sample_daily_history(TICKER, SAMPLE_PRICES_START, SAMPLE_PRICES_END) == full  # raw included
    other = sample_daily_history("AAPL", SAMPLE_PRICES_START, SAMPLE_PRICES_END)
    assert [b.close for b in other.bars] != [b.close for b in full.bars]


def test_sample_has_one_split_with_the_jump_on_its_day():
    history = sample_daily_history(TICKER, SAMPLE_PRICES_START, SAMPLE_PRICES_END)
    [(split_day, ratio)] = history.splits
    assert ratio in (2.0, 3.0, 4.0)
    assert date(2012, 1, 1) <= split_day <= date(2022, 12, 31)
    days = [b.day for b in history.bars]
    i = days.index(split_day)
    before, on = history.bars[i - 1], history.bars[i]
    assert before.close / on.close == pytest.approx(ratio, rel=0.2)  # as traded: prices drop by the ratio
    assert on.open < before.close / ratio * 1.2
    # Without the split the jump is gone: adjusted, the day's move is an ordinary one.
    assert abs(np.log(on.close * ratio / before.close)) < 0.2
    # Only a range holding the split lists it.
    assert sample_daily_history(TICKER, split_day, split_day).splits == ((split_day, ratio),)
    assert sample_daily_history(TICKER, SAMPLE_PRICES_START, days[i - 1]).splits == ()


def test_sample_has_volatility_regimes():
    history = sample_daily_history(TICKER, SAMPLE_PRICES_START, SAMPLE_PRICES_END)
    closes = np.array([b.close for b in history.bars])
    returns = np.diff(np.log(closes))
    [(split_day, ratio)] = history.splits
    returns[[b.day for b in history.bars].index(split_day) - 1] += np.log(ratio)
    windows = np.lib.stride_tricks.sliding_window_view(returns, 60).std(axis=1)
    assert windows.max() / windows.min() > 2.0


def test_sample_unknown_ticker_and_ranges_outside_the_sample():
    with pytest.raises(PriceSourceTickerError, match="ZZZZ: unknown symbol") as info:
        sample_daily_history(SAMPLE_UNKNOWN_TICKER, date(2020, 1, 1), date(2020, 12, 31))
    assert info.value.scope == "ticker"
    assert info.value.ticker == SAMPLE_UNKNOWN_TICKER
    with pytest.raises(PriceSourceTickerError, match="no session"):
        sample_daily_history(TICKER, date(2026, 11, 28), date(2026, 12, 31))
    with pytest.raises(PriceSourceTickerError, match="no session"):
        sample_daily_history(TICKER, date(2004, 1, 1), date(2004, 12, 31))


def test_sample_price_source_resource():
    source = SamplePriceSource()
    assert source.source == "sample"
    got = source.daily_history(TICKER, date(2024, 1, 2), date(2024, 1, 31))
    assert got == sample_daily_history(TICKER, date(2024, 1, 2), date(2024, 1, 31))
    assert got.source == "sample"
    assert json.loads(got.raw)["ticker"] == TICKER
