"""The deterministic offline Alpha Vantage sample: determinism, exact shapes, and every special case."""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta
from itertools import pairwise

import pytest
import requests

from resources.sample_sources import alpha_vantage as sample
from resources.sample_sources.alpha_vantage import (
    BALANCE_SHEET_FIELDS,
    CASH_FLOW_FIELDS,
    ERROR_TICKER,
    INCOME_STATEMENT_FIELDS,
    MISSING_QUARTER,
    MISSING_QUARTER_TICKER,
    NONE_VALUES_FIELD,
    NONE_VALUES_TICKER,
    OUTLIER_FIELD,
    OUTLIER_QUARTER,
    OUTLIER_TICKER,
    PRE_MARKET_TICKER,
    SHARE_CLASS_TICKER,
    SPLIT_DATE,
    SPLIT_TICKER,
    WEEKEND_REPORT_QUARTER,
    WEEKEND_REPORT_TICKER,
    SampleAlphaVantageData,
)
from resources.sample_sources.server import AlphaVantageSampleServer

DATA = SampleAlphaVantageData()
GOOD = [t for t in DATA.tickers if t != ERROR_TICKER]
STATEMENTS = {
    "INCOME_STATEMENT": INCOME_STATEMENT_FIELDS,
    "BALANCE_SHEET": BALANCE_SHEET_FIELDS,
    "CASH_FLOW": CASH_FLOW_FIELDS,
}


def get(function: str, symbol: str, **params: str) -> dict:
    return DATA.response(function, {"symbol": symbol, **params})


def quarterly(function: str, symbol: str) -> dict[str, dict[str, str]]:
    return {r["fiscalDateEnding"]: r for r in get(function, symbol)["quarterlyReports"]}


# --------------------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    ("function", "params"),
    [
        ("INCOME_STATEMENT", {"symbol": SPLIT_TICKER}),
        ("BALANCE_SHEET", {"symbol": MISSING_QUARTER_TICKER}),
        ("CASH_FLOW", {"symbol": SHARE_CLASS_TICKER}),
        ("EARNINGS", {"symbol": WEEKEND_REPORT_TICKER}),
        ("TIME_SERIES_DAILY", {"symbol": SPLIT_TICKER, "outputsize": "full"}),
        ("TIME_SERIES_DAILY_ADJUSTED", {"symbol": OUTLIER_TICKER, "outputsize": "full"}),
        ("TIME_SERIES_INTRADAY", {"symbol": PRE_MARKET_TICKER, "interval": "5min"}),
        ("DIVIDENDS", {"symbol": NONE_VALUES_TICKER}),
        ("ETF_PROFILE", {"symbol": "QQQ"}),
    ],
)
def test_same_arguments_give_identical_bytes(function, params):
    first = SampleAlphaVantageData().response_bytes(function, params)
    second = SampleAlphaVantageData().response_bytes(function, params)
    assert first == second
    assert SampleAlphaVantageData(seed=8).response_bytes(function, params) != first


def test_universe():
    assert len(DATA.tickers) == 10
    assert len(set(DATA.tickers)) == 10
    assert SHARE_CLASS_TICKER in DATA.tickers
    assert "-" in SHARE_CLASS_TICKER
    assert ERROR_TICKER in DATA.tickers
    big = SampleAlphaVantageData(1000)
    assert len(big.tickers) == len(set(big.tickers)) == 1000
    assert big.tickers[:10] == DATA.tickers
    assert ERROR_TICKER in SampleAlphaVantageData(3).tickers


# --------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("function", list(STATEMENTS))
def test_statement_shapes(function):
    fields = STATEMENTS[function]
    saw_none = False
    for symbol in GOOD:
        payload = get(function, symbol)
        assert list(payload) == ["symbol", "annualReports", "quarterlyReports"]
        assert payload["symbol"] == symbol
        for kind in ("annualReports", "quarterlyReports"):
            reports = payload[kind]
            dates = [r["fiscalDateEnding"] for r in reports]
            assert dates == sorted(dates, reverse=True), "newest first"
            for report in reports:
                assert set(report) == {"fiscalDateEnding", "reportedCurrency", *fields}
                assert report["reportedCurrency"] == "USD"
                day = date.fromisoformat(report["fiscalDateEnding"])
                assert day.month in (3, 6, 9, 12)
                assert (day + timedelta(days=1)).day == 1
                for name in fields:
                    value = report[name]
                    assert isinstance(value, str)
                    if value == "None":
                        saw_none = True
                    else:
                        int(value)
        quarters = payload["quarterlyReports"]
        assert quarters[-1]["fiscalDateEnding"] == "2005-03-31"
        assert quarters[0]["fiscalDateEnding"] == "2026-09-30"  # reported by SAMPLE_END (2026-11-20)
        assert len(quarters) >= 86
    assert saw_none


def test_statements_are_internally_consistent():
    for symbol in GOOD:
        for report in get("BALANCE_SHEET", symbol)["quarterlyReports"]:
            assert int(report["totalAssets"]) == int(report["totalLiabilities"]) + int(report["totalShareholderEquity"])
        for report in get("CASH_FLOW", symbol)["quarterlyReports"]:
            assert int(report["capitalExpenditures"]) > 0
        income = get("INCOME_STATEMENT", symbol)["quarterlyReports"]
        revenue = [int(r["totalRevenue"]) for r in income if r["totalRevenue"] != "None"]
        assert statistics.median(revenue[:8]) > statistics.median(revenue[-8:]), "revenue grows"


def test_earnings_shape_and_report_times():
    times = set()
    for symbol in GOOD:
        payload = get("EARNINGS", symbol)
        assert list(payload) == ["symbol", "annualEarnings", "quarterlyEarnings"]
        rows = payload["quarterlyEarnings"]
        assert [r["fiscalDateEnding"] for r in rows] == sorted((r["fiscalDateEnding"] for r in rows), reverse=True)
        for row in rows:
            assert set(row) == {
                "fiscalDateEnding",
                "reportedDate",
                "reportedEPS",
                "estimatedEPS",
                "surprise",
                "surprisePercentage",
                "reportTime",
            }
            assert all(isinstance(v, str) for v in row.values())
            lag = (date.fromisoformat(row["reportedDate"]) - date.fromisoformat(row["fiscalDateEnding"])).days
            assert 20 <= lag <= 48
            times.add(row["reportTime"])
        assert {r["fiscalDateEnding"] for r in rows} == set(quarterly("INCOME_STATEMENT", symbol))
    assert times == {"pre-market", "post-market"}
    assert {r["reportTime"] for r in get("EARNINGS", PRE_MARKET_TICKER)["quarterlyEarnings"]} == {"pre-market"}


def test_daily_prices():
    days = DATA.trading_days()
    full = get("TIME_SERIES_DAILY", SPLIT_TICKER, outputsize="full")
    assert list(full) == ["Meta Data", "Time Series (Daily)"]
    series = full["Time Series (Daily)"]
    assert len(series) == len(days)
    keys = list(series)
    assert keys == sorted(keys, reverse=True)
    assert keys[0] == "2026-11-20"
    for holiday in ("2025-07-04", "2025-12-25", "2024-11-28", "2024-01-01"):
        assert holiday not in series
    for day, bar in series.items():
        assert date.fromisoformat(day).weekday() < 5
        assert list(bar) == ["1. open", "2. high", "3. low", "4. close", "5. volume"]
        o, h, low, c = (float(bar[k]) for k in ("1. open", "2. high", "3. low", "4. close"))
        assert low <= min(o, c)
        assert max(o, c) <= h
        assert int(bar["5. volume"]) >= 0
    compact = get("TIME_SERIES_DAILY", SPLIT_TICKER, outputsize="compact")["Time Series (Daily)"]
    assert len(compact) == 100
    assert list(compact) == keys[:100]
    assert get("TIME_SERIES_DAILY", SPLIT_TICKER)["Time Series (Daily)"] == compact


def test_adjusted_and_intraday_shapes():
    adjusted = get("TIME_SERIES_DAILY_ADJUSTED", SPLIT_TICKER, outputsize="full")["Time Series (Daily)"]
    assert list(next(iter(adjusted.values()))) == [
        "1. open",
        "2. high",
        "3. low",
        "4. close",
        "5. adjusted close",
        "6. volume",
        "7. dividend amount",
        "8. split coefficient",
    ]
    assert adjusted[SPLIT_DATE.isoformat()]["8. split coefficient"] == "4.0"
    intraday = get("TIME_SERIES_INTRADAY", SPLIT_TICKER, interval="5min")
    assert "Time Series (5min)" in intraday
    assert len(intraday["Time Series (5min)"]) == 100


def test_intraday_history_by_month():
    october = get("TIME_SERIES_INTRADAY", SPLIT_TICKER, interval="5min", month="2026-10", outputsize="full")
    stamps = list(october["Time Series (5min)"])
    assert stamps[0] == "2026-10-30 19:55:00"
    assert stamps[-1] == "2026-10-01 04:00:00"
    assert len(stamps) == 21 * 192  # 21 sample trading days (Columbus Day is off), 04:00-20:00 every 5 minutes
    assert len(get("TIME_SERIES_INTRADAY", SPLIT_TICKER, interval="5min", month="2026-10")["Time Series (5min)"]) == 100
    # A day's bars are the same in the month's answer and in the recent one.
    recent = get("TIME_SERIES_INTRADAY", SPLIT_TICKER, interval="5min", outputsize="full")["Time Series (5min)"]
    november = get("TIME_SERIES_INTRADAY", SPLIT_TICKER, interval="5min", month="2026-11", outputsize="full")
    assert recent.items() <= november["Time Series (5min)"].items()
    for bad in ("2026-13", "2026-1", "1999-06"):
        answer = get("TIME_SERIES_INTRADAY", SPLIT_TICKER, interval="5min", month=bad)
        assert "Invalid API call" in answer["Error Message"]


# --------------------------------------------------------------------------------------------- special cases


def test_split_is_consistent_with_prices_and_share_counts():
    assert get("SPLITS", SPLIT_TICKER) == {
        "symbol": SPLIT_TICKER,
        "data": [{"effective_date": SPLIT_DATE.isoformat(), "split_factor": "4.0000"}],
    }
    for symbol in GOOD:
        if symbol != SPLIT_TICKER:
            assert get("SPLITS", symbol) == {"symbol": symbol, "data": []}
    series = get("TIME_SERIES_DAILY", SPLIT_TICKER, outputsize="full")["Time Series (Daily)"]
    days = sorted(series)
    i = days.index(SPLIT_DATE.isoformat())
    before = float(series[days[i - 1]]["4. close"])
    after = float(series[days[i]]["4. close"])
    assert 3.0 < before / after < 5.3
    week_before = statistics.median(float(series[d]["4. close"]) for d in days[i - 20 : i])
    week_after = statistics.median(float(series[d]["4. close"]) for d in days[i : i + 20])
    assert 3.0 < week_before / week_after < 5.3
    shares = {d: int(r["commonStockSharesOutstanding"]) for d, r in quarterly("BALANCE_SHEET", SPLIT_TICKER).items()}
    assert 3.8 < shares["2020-09-30"] / shares["2020-06-30"] < 4.2
    ordered = [shares[d] for d in sorted(shares)]
    jumps = [b / a for a, b in pairwise(ordered)]
    assert sum(j > 2 for j in jumps) == 1, "one jump, at the first quarter ending after the split"


def test_weekend_reported_date():
    rows = {r["fiscalDateEnding"]: r for r in get("EARNINGS", WEEKEND_REPORT_TICKER)["quarterlyEarnings"]}
    assert date.fromisoformat(rows[WEEKEND_REPORT_QUARTER.isoformat()]["reportedDate"]).weekday() == 5
    weekend = [
        (s, r["fiscalDateEnding"])
        for s in GOOD
        for r in get("EARNINGS", s)["quarterlyEarnings"]
        if date.fromisoformat(r["reportedDate"]).weekday() >= 5
    ]
    assert weekend == [(WEEKEND_REPORT_TICKER, WEEKEND_REPORT_QUARTER.isoformat())]


def test_missing_balance_sheet_quarter():
    assert MISSING_QUARTER.isoformat() not in quarterly("BALANCE_SHEET", MISSING_QUARTER_TICKER)
    for function in ("INCOME_STATEMENT", "CASH_FLOW"):
        assert MISSING_QUARTER.isoformat() in quarterly(function, MISSING_QUARTER_TICKER)
    assert MISSING_QUARTER.isoformat() in {
        r["fiscalDateEnding"] for r in get("EARNINGS", MISSING_QUARTER_TICKER)["quarterlyEarnings"]
    }
    for symbol in GOOD:
        if symbol != MISSING_QUARTER_TICKER:
            assert MISSING_QUARTER.isoformat() in quarterly("BALANCE_SHEET", symbol)


def test_none_values():
    reports = get("INCOME_STATEMENT", NONE_VALUES_TICKER)["quarterlyReports"]
    assert {r[NONE_VALUES_FIELD] for r in reports} == {"None"}
    assert all(r[NONE_VALUES_FIELD] != "None" for r in get("INCOME_STATEMENT", GOOD[0])["quarterlyReports"])
    sporadic = sum(
        r[f] == "None"
        for s in GOOD
        for r in get("BALANCE_SHEET", s)["quarterlyReports"]
        for f in sample.SPORADIC_NONE_FIELDS
        if f in r
    )
    assert sporadic >= 1


def test_one_quarter_spike_outlier():
    rows = quarterly("INCOME_STATEMENT", OUTLIER_TICKER)
    dates = sorted(rows)
    i = dates.index(OUTLIER_QUARTER.isoformat())
    neighbours = statistics.median(int(rows[d][OUTLIER_FIELD]) for d in dates[i - 4 : i] + dates[i + 1 : i + 5])
    assert int(rows[OUTLIER_QUARTER.isoformat()][OUTLIER_FIELD]) / neighbours > 5


@pytest.mark.parametrize(
    "function",
    ["INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW", "EARNINGS", "TIME_SERIES_DAILY", "SPLITS", "DIVIDENDS"],
)
def test_error_ticker_errors_everywhere(function):
    assert get(function, ERROR_TICKER) == {
        "Error Message": (
            "Invalid API call. Please retry or visit the documentation "
            f"(https://www.alphavantage.co/documentation/) for {function}."
        )
    }
    assert get("OVERVIEW", ERROR_TICKER) == {}


def test_unknown_function_and_symbol():
    assert "Error Message" in DATA.response("NOT_A_FUNCTION", {"symbol": GOOD[0]})
    assert "Error Message" in get("EARNINGS", "NOPE")
    assert "Error Message" in get("ETF_PROFILE", "VTI")


def test_etf_profile():
    profiles = [get("ETF_PROFILE", etf) for etf in DATA.etf_symbols()]
    assert DATA.etf_symbols() == ["QQQ", "IWB", "SPY"]
    holdings = profiles[0]["holdings"]
    assert all(p["holdings"] == holdings for p in profiles)
    for key in ("net_assets", "net_expense_ratio", "portfolio_turnover", "dividend_yield", "inception_date"):
        assert isinstance(profiles[0][key], str)
    symbols = [h["symbol"] for h in holdings]
    assert "n/a" in symbols
    assert set(symbols) - {"n/a"} == set(DATA.tickers)
    weights = [float(h["weight"]) for h in holdings]
    assert all(0 < w < 1 for w in weights)
    assert sum(weights) == pytest.approx(1.0, abs=0.01)
    cash = next(h for h in holdings if h["symbol"] == "n/a")
    assert set(cash) == {"symbol", "description", "weight"}


def test_dividends_agree_with_adjusted_prices():
    payers = [s for s in GOOD if get("DIVIDENDS", s)["data"]]
    assert payers
    symbol = payers[0]
    dividends = get("DIVIDENDS", symbol)["data"]
    adjusted = get("TIME_SERIES_DAILY_ADJUSTED", symbol, outputsize="full")["Time Series (Daily)"]
    for row in dividends:
        assert adjusted[row["ex_dividend_date"]]["7. dividend amount"] == f"{float(row['amount']):.4f}"


def test_one_ticker_is_generated_quickly():
    data = SampleAlphaVantageData(1000)
    data.trading_days()
    symbol = data.tickers[500]
    started = time.perf_counter()
    for function in ("INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW", "EARNINGS"):
        data.response_bytes(function, {"symbol": symbol})
    statements = time.perf_counter() - started
    assert statements < 0.25  # generous: about 30 ms on a laptop
    started = time.perf_counter()
    again = data.response_bytes("INCOME_STATEMENT", {"symbol": symbol})
    assert time.perf_counter() - started < 0.01, "cached"
    assert again == SampleAlphaVantageData(1000).response_bytes("INCOME_STATEMENT", {"symbol": symbol})


# --------------------------------------------------------------------------------------------- server


def test_server_key_handling_and_recording():
    with AlphaVantageSampleServer(DATA, daily_limit=2) as server:

        def ask(**params: str) -> dict:
            return requests.get(server.url, params=params, timeout=5).json()

        assert "Error Message" in ask(function="EARNINGS", symbol=GOOD[0])  # no key
        assert "Error Message" in ask(function="EARNINGS", symbol=GOOD[0], apikey="bad-key")
        assert "Information" in ask(function="EARNINGS", symbol=GOOD[0], apikey="demo")
        assert "quarterlyEarnings" in ask(function="EARNINGS", symbol="IBM", apikey="demo")
        assert "holdings" in ask(function="ETF_PROFILE", symbol="QQQ", apikey="demo")
        assert "quarterlyEarnings" in ask(function="EARNINGS", symbol=GOOD[0], apikey="k1")
        assert "quarterlyEarnings" in ask(function="EARNINGS", symbol=GOOD[0], apikey="k1")
        quota = ask(function="EARNINGS", symbol=GOOD[0], apikey="k1")
        assert "k1" in quota["Information"]
        assert "25 requests per day" in quota["Information"]
        server.inject("<html>oops</html>", status=502, symbol="ZZZZ")
        response = requests.get(server.url, params={"function": "EARNINGS", "symbol": "ZZZZ"}, timeout=5)
        assert response.status_code == 502
        assert response.text == "<html>oops</html>"
        recorded = server.requests
        assert len(recorded) == 9
        assert all("apikey" not in r.params for r in recorded)
        assert [r.time for r in recorded] == sorted(r.time for r in recorded)
