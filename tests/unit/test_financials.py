"""Unit tests of the fundamentals maths against hand-built Alpha Vantage payloads and hand-computed values."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ops_assets.fundamentals.financials import (
    _CASH_FLOW_AV_FIELDS,
    ARTIFACT_SCHEMA,
    BALANCE_FIELDS,
    CASH_FLOW_FIELDS,
    FLOW_METRICS,
    INCOME_FIELDS,
    QUARTERLY_SCHEMA,
    STOCK_METRICS,
    RawTickerData,
    build_daily_per_share,
    build_quarterly_financials,
    parse_daily_prices,
    parse_earnings,
    parse_quarterly_statements,
    parse_splits,
    to_artifact_table,
    to_quarterly_table,
)

# ---------------------------------------------------------------------------------------------------
# Helpers building AV-shaped payloads
# ---------------------------------------------------------------------------------------------------

EARLY = date(2000, 1, 1)


def q_ends(n: int, first: str = "2019-03-31") -> list[str]:
    """n consecutive calendar quarter ends."""
    return [d.strftime("%Y-%m-%d") for d in pd.date_range(first, periods=n, freq="QE")]


def _av(value) -> str:
    return "None" if value is None else str(value)


def statement(fields, ends, values=None, *, default="100", drop_fields=(), extra=None) -> dict:
    """An AV statement payload; ``values`` maps field -> list aligned with ``ends`` (oldest first)."""
    values = values or {}
    reports = []
    for i, end in enumerate(ends):
        report = {"fiscalDateEnding": end, "reportedCurrency": "USD"}
        for f in fields:
            if f in drop_fields:
                continue
            if f in values:
                report[f] = _av(values[f][i])
            elif f == "commonStockSharesOutstanding":
                report[f] = "1000"
            else:
                report[f] = default
        for key, vals in (extra or {}).items():
            report[key] = _av(vals[i])
        reports.append(report)
    return {"symbol": "TEST", "annualReports": [], "quarterlyReports": reports[::-1]}  # AV: newest first


def earnings_payload(ends, reported, times) -> dict:
    rows = []
    for end, rep, t in zip(ends, reported, times, strict=True):
        row = {"fiscalDateEnding": end, "reportedDate": _av(rep), "reportedEPS": "1.0", "estimatedEPS": "0.9"}
        if t is not None:
            row["reportTime"] = t
        rows.append(row)
    return {"symbol": "TEST", "annualEarnings": [], "quarterlyEarnings": rows[::-1]}


def prices_payload(days, closes=None) -> dict:
    closes = closes if closes is not None else [10.0] * len(days)
    series = {}
    for d, c in zip(days, closes, strict=True):
        series[pd.Timestamp(d).strftime("%Y-%m-%d")] = {
            "1. open": str(c),
            "2. high": str(c),
            "3. low": str(c),
            "4. close": str(c),
            "5. volume": "1000",
        }
    return {"Meta Data": {"2. Symbol": "TEST"}, "Time Series (Daily)": dict(reversed(list(series.items())))}


def splits_payload(rows) -> dict:
    return {"symbol": "TEST", "data": [{"effective_date": d, "split_factor": f} for d, f in rows]}


def make_raw(
    ends,
    *,
    income=None,
    balance=None,
    cash=None,
    reported=None,
    times=None,
    earnings_ends=None,
    days=None,
    closes=None,
    splits=(),
    drop_fields=(),
    balance_extra=None,
) -> RawTickerData:
    """A ticker whose every field is 100 and share count 1000 unless overridden; reports come out
    35 days after the quarter end, post-market; prices every business day with close 10."""
    if reported is None:
        reported = [(pd.Timestamp(e) + pd.Timedelta(days=35)).strftime("%Y-%m-%d") for e in ends]
    times = times if times is not None else ["post-market"] * len(ends)
    if days is None:
        days = pd.bdate_range(
            pd.Timestamp(ends[0]) - pd.Timedelta(days=30), pd.Timestamp(ends[-1]) + pd.Timedelta(days=150)
        )
    return RawTickerData(
        ticker="TEST",
        income_statement=statement(INCOME_FIELDS, ends, income, drop_fields=drop_fields),
        balance_sheet=statement(BALANCE_FIELDS, ends, balance, drop_fields=drop_fields, extra=balance_extra),
        cash_flow=statement(_CASH_FLOW_AV_FIELDS, ends, cash, drop_fields=drop_fields),
        earnings=earnings_payload(earnings_ends or ends, reported, times),
        daily_prices=prices_payload(days, closes),
        splits=splits_payload(list(splits)),
    )


def build(raw: RawTickerData, as_of: date = date(2030, 1, 1), start: date = EARLY, **kw):
    return build_quarterly_financials(raw, start_date=start, as_of=as_of, **kw)


def daily_for(raw: RawTickerData, as_of: date = date(2030, 1, 1), start: date = EARLY, quarterly=None):
    if quarterly is None:
        result = build(raw, as_of=as_of, start=start)
        assert result.skipped_reason is None
        quarterly = result.frame
    return build_daily_per_share(
        quarterly,
        parse_daily_prices(raw.daily_prices),
        parse_splits(raw.splits),
        ticker=raw.ticker,
        start_date=start,
        as_of=as_of,
    )


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


# ---------------------------------------------------------------------------------------------------
# Field lists and parsing
# ---------------------------------------------------------------------------------------------------


def test_field_lists_match_the_reference():
    assert (len(INCOME_FIELDS), len(BALANCE_FIELDS), len(CASH_FLOW_FIELDS)) == (24, 36, 27)
    assert CASH_FLOW_FIELDS[-1] == "netIncome_cashflow"
    assert "netIncome" in INCOME_FIELDS
    assert "netIncome" not in CASH_FLOW_FIELDS
    assert FLOW_METRICS == INCOME_FIELDS + CASH_FLOW_FIELDS
    assert "commonStockSharesOutstanding" not in STOCK_METRICS
    assert len(STOCK_METRICS) == 35
    assert "otherNonCurrentAssets" in BALANCE_FIELDS


def test_none_becomes_nan_and_never_reported_field_stays_nan():
    ends = q_ends(12)
    revenue = [100 + i for i in range(12)]
    revenue[4] = None
    raw = make_raw(ends, income={"totalRevenue": revenue}, drop_fields=("researchAndDevelopment",))
    stmts = parse_quarterly_statements(raw.income_statement, raw.balance_sheet, raw.cash_flow)
    assert len(stmts) == 12
    assert math.isnan(stmts.loc[4, "totalRevenue"])
    assert stmts.loc[5, "totalRevenue"] == 105.0
    assert stmts["researchAndDevelopment"].isna().all()  # never reported: NaN, not 0

    q = build(raw).frame
    assert q["researchAndDevelopment_ttm"].isna().all()
    daily = daily_for(raw)
    assert daily["researchAndDevelopment_per_share"].isna().all()
    assert daily["researchAndDevelopment_ttm_per_share"].isna().all()
    assert not (daily["researchAndDevelopment_ttm_per_share"] == 0).any()


def test_three_r_spelling_is_read_as_other_non_current_assets():
    ends = q_ends(3)
    raw = make_raw(
        ends,
        drop_fields=("otherNonCurrentAssets",),
        balance_extra={"otherNonCurrrentAssets": [555, 556, None]},
    )
    stmts = parse_quarterly_statements(raw.income_statement, raw.balance_sheet, raw.cash_flow)
    assert stmts["otherNonCurrentAssets"].tolist()[:2] == [555.0, 556.0]
    assert math.isnan(stmts["otherNonCurrentAssets"].iloc[2])
    assert "otherNonCurrrentAssets" not in stmts.columns


def test_three_r_spelling_mixed_with_correct_spelling_across_reports():
    # 2021-22 reports use the misspelling, later ones the right name: each report is read on its own.
    ends = q_ends(3, first="2021-09-30")
    raw = make_raw(ends, drop_fields=("otherNonCurrentAssets",))
    reports = raw.balance_sheet["quarterlyReports"]  # newest first
    reports[0]["otherNonCurrentAssets"] = "30"
    reports[1]["otherNonCurrrentAssets"] = "20"
    reports[2]["otherNonCurrrentAssets"] = "10"
    reports[2]["otherNonCurrentAssets"] = "None"
    stmts = parse_quarterly_statements(raw.income_statement, raw.balance_sheet, raw.cash_flow)
    assert stmts["otherNonCurrentAssets"].tolist() == [10.0, 20.0, 30.0]


def test_cash_flow_net_income_is_renamed():
    ends = q_ends(2)
    raw = make_raw(ends, income={"netIncome": [7, 8]}, cash={"netIncome": [70, 80]})
    stmts = parse_quarterly_statements(raw.income_statement, raw.balance_sheet, raw.cash_flow)
    assert stmts["netIncome"].tolist() == [7.0, 8.0]
    assert stmts["netIncome_cashflow"].tolist() == [70.0, 80.0]


def test_only_quarters_in_all_three_statements_are_kept():
    ends = q_ends(4)
    raw = make_raw(ends)
    cash = statement(_CASH_FLOW_AV_FIELDS, ends[:3], None)
    stmts = parse_quarterly_statements(raw.income_statement, raw.balance_sheet, cash)
    assert stmts["fiscal_date_ending"].tolist() == [ts(e) for e in ends[:3]]


def test_52_53_week_period_ends_join_earnings_month_ends():
    # Statements on real 52/53-week ends, EARNINGS on month ends (2021-22 snapshots).
    stmt_ends = ["2020-11-01", "2021-01-31", "2021-05-02", "2021-08-01"]
    earn_ends = ["2020-10-31", "2021-01-31", "2021-04-30", "2021-07-31"]
    reported = ["2020-12-01", "2021-03-02", "2021-06-01", "2021-08-31"]
    raw = make_raw(stmt_ends, earnings_ends=earn_ends, reported=reported)
    q = build(raw, min_quarters=4).frame
    assert q["fiscal_date_ending"].tolist() == [ts(e) for e in earn_ends]
    assert q["period_end_date"].tolist() == [ts(e) for e in stmt_ends]
    assert q["reported_date"].tolist() == [ts(r) for r in reported]
    assert q["calendar_quarter"].tolist() == ["2020Q4", "2021Q1", "2021Q2", "2021Q3"]
    # Normalized months are 3 apart, so the 52/53-week quarters form a valid TTM window.
    assert q["totalRevenue_ttm"].iloc[-1] == 400.0

    earn = parse_earnings(raw.earnings)
    assert earn["fiscal_date_ending"].tolist() == [ts(e) for e in earn_ends]
    assert earn["report_time"].tolist() == ["post-market"] * 4


def test_duplicate_period_keeps_later_dated_report_and_logs_it():
    ends = q_ends(10)
    raw = make_raw(ends)
    # An extra income-statement report dated 2019-07-01 normalizes to June 2019 like 2019-06-30.
    extra = dict(raw.income_statement["quarterlyReports"][-2])
    extra["fiscalDateEnding"] = "2019-07-01"
    extra["totalRevenue"] = "999"
    income = {**raw.income_statement, "quarterlyReports": [*raw.income_statement["quarterlyReports"], extra]}
    raw = RawTickerData(**{**raw.__dict__, "income_statement": income})
    result = build(raw)
    june = result.frame[result.frame["fiscal_date_ending"] == ts("2019-06-30")]
    assert june["totalRevenue"].tolist() == [999.0]  # the later-dated report won
    log = result.cleaning_log[result.cleaning_log["rule"] == "duplicate_period"]
    assert len(log) == 1
    row = log.iloc[0]
    assert (row["fiscal_date_ending"], row["column"]) == (ts("2019-06-30"), "INCOME_STATEMENT")
    assert (row["original_value"], row["new_value"]) == ("2019-06-30", "2019-07-01")


def test_parse_daily_prices_sorted_ascending_with_float_columns():
    frame = parse_daily_prices(prices_payload(["2024-01-02", "2024-01-03"], [1.5, 2.5]))
    assert frame["date"].tolist() == [ts("2024-01-02"), ts("2024-01-03")]
    assert frame["close"].tolist() == [1.5, 2.5]
    assert frame["date"].dtype == "datetime64[ns]"
    assert all(frame[c].dtype == "float64" for c in ("open", "high", "low", "close", "volume"))


def test_parse_splits_factors_and_errors():
    frame = parse_splits(splits_payload([("2020-08-31", "4.0000"), ("2014-06-09", "7/1")]))
    assert frame["effective_date"].tolist() == [ts("2014-06-09"), ts("2020-08-31")]
    assert frame["split_factor"].tolist() == [7.0, 4.0]
    assert parse_splits(splits_payload([("2020-01-02", "0.1000")]))["split_factor"].tolist() == [0.1]
    assert len(parse_splits({"symbol": "X", "data": []})) == 0
    with pytest.raises(ValueError, match="positive"):
        parse_splits(splits_payload([("2020-08-31", "0.0000")]))
    with pytest.raises(ValueError, match="unparsable"):
        parse_splits(splits_payload([("2020-08-31", "four")]))


def test_api_message_bodies_raise_clear_errors():
    with pytest.raises(ValueError, match="Information"):
        parse_daily_prices({"Information": "Thank you for using Alpha Vantage! ... 25 requests per day"})
    with pytest.raises(ValueError, match="quarterlyReports"):
        parse_quarterly_statements({}, {}, {})


# ---------------------------------------------------------------------------------------------------
# TTM
# ---------------------------------------------------------------------------------------------------


def test_ttm_sums_four_consecutive_quarters():
    ends = q_ends(12)
    raw = make_raw(ends, income={"totalRevenue": list(range(1, 13))})
    q = build(raw).frame
    ttm = q["totalRevenue_ttm"].tolist()
    assert all(math.isnan(v) for v in ttm[:3])
    assert ttm[3:] == [10.0, 14.0, 18.0, 22.0, 26.0, 30.0, 34.0, 38.0, 42.0]


def test_ttm_nan_around_a_missing_value():
    ends = q_ends(12)
    revenue = list(range(1, 13))
    revenue[5] = None
    q = build(make_raw(ends, income={"totalRevenue": revenue})).frame
    ttm = q["totalRevenue_ttm"].tolist()
    assert ttm[4] == 14.0
    assert all(math.isnan(v) for v in ttm[5:9])  # the four windows containing quarter 5
    assert ttm[9] == 7 + 8 + 9 + 10
    assert math.isnan(q["totalRevenue"].iloc[5])  # the gap is not filled either


def test_ttm_nan_across_a_missing_quarter():
    ends = q_ends(12)
    kept = [e for i, e in enumerate(ends) if i != 5]  # the quarter 2020-06-30 is absent everywhere
    revenue = [i + 1 for i in range(12) if i != 5]
    q = build(make_raw(kept, income={"totalRevenue": revenue})).frame
    ttm = dict(zip(q["fiscal_date_ending"], q["totalRevenue_ttm"], strict=True))
    assert ttm[ts(ends[4])] == 2 + 3 + 4 + 5
    for i in (6, 7, 8):  # windows that would include the missing quarter
        assert math.isnan(ttm[ts(ends[i])])
    assert ttm[ts(ends[9])] == 7 + 8 + 9 + 10


# ---------------------------------------------------------------------------------------------------
# Visibility
# ---------------------------------------------------------------------------------------------------


def _visibility_frame(reported, times, days=None):
    ends = q_ends(len(reported), first="2020-12-31")
    raw = make_raw(ends, reported=reported, times=times, days=days)
    return build(raw, min_quarters=1).frame


def test_visible_from_rules():
    # 2021-05-01 is a Saturday; 2021-08-04 a Wednesday.
    reported = ["2021-05-01", "2021-05-01", "2021-08-04", "2021-08-04", "2021-08-04"]
    times = ["pre-market", "post-market", "pre-market", "post-market", None]
    q = _visibility_frame(reported, times)
    assert q["visible_from"].tolist() == [
        ts("2021-05-03"),  # weekend -> next Monday
        ts("2021-05-03"),
        ts("2021-08-04"),  # pre-market -> same trading day
        ts("2021-08-05"),  # post-market -> next trading day
        ts("2021-08-05"),  # unknown time -> next trading day (conservative)
    ]
    assert q["report_time"].tolist()[-1] is None


def test_holiday_reported_date_becomes_visible_next_trading_day():
    days = [d for d in pd.bdate_range("2020-12-01", "2021-12-31") if d != ts("2021-07-05")]
    q = _visibility_frame(["2021-07-05"], ["pre-market"], days=days)
    assert q["visible_from"].tolist() == [ts("2021-07-06")]


def test_quarter_without_reported_date_is_dropped_and_logged():
    ends = q_ends(11)
    reported = [(ts(e) + pd.Timedelta(days=35)).strftime("%Y-%m-%d") for e in ends]
    reported[3] = None
    result = build(make_raw(ends, reported=reported))
    assert ts(ends[3]) not in set(result.frame["fiscal_date_ending"])
    assert len(result.frame) == 10
    log = result.cleaning_log[result.cleaning_log["rule"] == "no_reported_date"]
    assert log["fiscal_date_ending"].tolist() == [ts(ends[3])]


def test_daily_rows_never_show_a_quarter_before_visible_from():
    ends = q_ends(12)
    raw = make_raw(ends, income={"totalRevenue": list(range(1, 13))})
    q = build(raw).frame
    daily = daily_for(raw)
    shown = daily[daily["visible_from"].notna()]
    assert (shown["date"] >= shown["visible_from"]).all()
    # Before the first quarter became visible every fundamentals column is null.
    first_visible = q["visible_from"].min()
    before = daily[daily["date"] < first_visible]
    assert len(before) > 0
    assert before["fiscal_date_ending"].isna().all()
    assert before["totalRevenue_per_share"].isna().all()
    assert not before["has_complete_financial_data"].any()
    # The day before a quarter's visible_from still shows the previous quarter.
    vis = q["visible_from"].iloc[5]
    prev_day = daily.loc[daily["date"] < vis, "fiscal_date_ending"].iloc[-1]
    assert prev_day == q["fiscal_date_ending"].iloc[4]
    assert daily.loc[daily["date"] == vis, "fiscal_date_ending"].iloc[0] == q["fiscal_date_ending"].iloc[5]


def test_late_filing_of_an_older_quarter_never_takes_rows_back_in_time():
    ends = q_ends(12)
    reported = [(ts(e) + pd.Timedelta(days=35)).strftime("%Y-%m-%d") for e in ends]
    reported[9] = "2022-03-01"  # Q4 2021 (ends[11]) is reported 2022-02-04; Q2 2021 comes after it
    raw = make_raw(ends, reported=reported)
    daily = daily_for(raw)
    after = daily[daily["date"] >= ts("2022-03-02")]
    assert (after["fiscal_date_ending"] == ts(ends[11])).all()
    assert (daily["fiscal_date_ending"].dropna().diff().dropna() >= pd.Timedelta(0)).all()


# ---------------------------------------------------------------------------------------------------
# Splits and per-share values
# ---------------------------------------------------------------------------------------------------


def test_split_continuity_and_adjusted_shares():
    # 4:1 split effective 2020-08-31 between the Q2 report (period end 2020-06-30, 1000 shares) and the
    # Q3 report (period end 2020-09-30, already 4000 shares). netIncome 100 a quarter -> TTM 400.
    ends = q_ends(12, first="2018-03-31")  # ... 2020-06-30 is index 9, 2020-09-30 index 10
    shares = [1000] * 10 + [4000] * 2
    days = pd.bdate_range("2018-02-01", "2021-06-30")
    closes = [40.0 if d < ts("2020-08-31") else 10.0 for d in days]
    raw = make_raw(
        ends,
        balance={"commonStockSharesOutstanding": shares},
        days=days,
        closes=closes,
        splits=[("2020-08-31", "4.0000")],
    )
    daily = daily_for(raw)
    daily = daily[daily["fiscal_date_ending"].notna()].set_index("date")

    before, on, later = daily.loc[ts("2020-08-28")], daily.loc[ts("2020-08-31")], daily.loc[ts("2020-11-05")]
    assert before["fiscal_date_ending"] == on["fiscal_date_ending"] == ts("2020-06-30")
    assert (before["split_factor_since_report"], before["shares_outstanding_adjusted"]) == (1.0, 1000.0)
    assert (on["split_factor_since_report"], on["shares_outstanding_adjusted"]) == (4.0, 4000.0)
    assert later["fiscal_date_ending"] == ts("2020-09-30")
    assert (later["split_factor_since_report"], later["shares_outstanding_adjusted"]) == (1.0, 4000.0)
    assert later["commonStockSharesOutstanding"] == 4000.0

    # close / EPS-like TTM per share is 100 on both sides of the split, and so is market cap.
    pe = daily["close"] / daily["netIncome_ttm_per_share"]
    assert np.allclose(pe.loc["2020-08-01":"2020-12-31"], 100.0)
    assert before["netIncome_ttm_per_share"] == pytest.approx(0.4)
    assert on["netIncome_ttm_per_share"] == pytest.approx(0.1)
    assert np.allclose(daily["market_cap_millions"].loc["2020-08-01":"2020-12-31"], 0.04)


def test_derived_columns_on_one_hand_computed_row():
    ends = q_ends(12)
    n = len(ends)
    raw = make_raw(
        ends,
        income={"ebit": [30] * n, "depreciationAndAmortization": [10] * n, "depreciation": [4] * n},
        balance={
            "commonStockSharesOutstanding": [100] * n,
            "shortLongTermDebtTotal": [300] * n,
            "cashAndShortTermInvestments": [100] * n,
            "totalShareholderEquity": [500] * n,
        },
        cash={"operatingCashflow": [50] * n, "capitalExpenditures": [20] * n},
    )
    daily = daily_for(raw).set_index("date")
    row = daily.loc[ts("2022-03-01")]
    assert row["fiscal_date_ending"] == ts("2021-12-31")
    assert row["close"] == 10.0
    assert row["market_cap_millions"] == pytest.approx(10 * 100 / 1e6)
    assert row["operatingCashflow_ttm_per_share"] == pytest.approx(2.0)
    assert row["fcf_ttm_per_share"] == pytest.approx((200 - 80) / 100)
    assert row["nopat_ttm_per_share"] == pytest.approx((120 + max(40 - 16, 0)) * (1 - 0.2375) / 100)
    assert row["enterprise_value_per_share"] == pytest.approx(10 + (300 - 100) / 100)
    assert row["invested_capital_per_share"] == pytest.approx((500 + 300 - 100) / 100)
    assert row["totalAssets_per_share"] == pytest.approx(1.0)
    assert row["totalRevenue_per_share"] == pytest.approx(1.0)
    assert row["has_complete_financial_data"]


def test_nopat_missing_when_an_input_is_missing_and_dna_floor_at_zero():
    ends = q_ends(12)
    n = len(ends)
    dep = [4] * n
    dep[-1] = None
    raw = make_raw(ends, income={"ebit": [30] * n, "depreciationAndAmortization": [2] * n, "depreciation": dep})
    daily = daily_for(raw).set_index("date")
    assert math.isnan(daily.loc[ts("2022-03-01"), "nopat_ttm_per_share"])
    # An earlier row: D&A (8) < depreciation (16) -> the max(...) floor adds 0.
    assert daily.loc[ts("2021-12-01"), "nopat_ttm_per_share"] == pytest.approx(120 * (1 - 0.2375) / 1000)


# ---------------------------------------------------------------------------------------------------
# Cleaning
# ---------------------------------------------------------------------------------------------------


def test_cleaning_logs_the_spike_keeps_its_row_raw_and_cleans_later_ttm_only():
    ends = q_ends(12)
    revenue = [100, 102, 101, 103, 102, 1000, 104, 103, 105, 104, 106, 105]
    assets = [100, 102, 101, 103, 102, None, 104, 103, 105, 104, 106, 105]  # NaN gap
    debt = [100, 101, 100, 102, 101, 200, 201, 200, 202, 201, 200, 202]  # level shift
    inventory = [10, 11, 10, 11, 10, 500, -500, 11, 10, 11, 10, 11]  # two adjacent: not isolated
    raw = make_raw(
        ends,
        income={"totalRevenue": revenue},
        balance={"totalAssets": assets, "longTermDebt": debt, "inventory": inventory},
    )
    result = build(raw)
    q, log = result.frame, result.cleaning_log

    # Every row keeps its reported values: quarter 5's cleaned value is only known from quarter 6 on.
    assert q["totalRevenue"].tolist() == [float(v) for v in revenue]
    assert q["totalAssets"].isna().tolist() == [i == 5 for i in range(12)]
    assert q["longTermDebt"].tolist() == [float(v) for v in debt]
    assert q["inventory"].tolist() == [float(v) for v in inventory]

    assert list(log.columns) == ["ticker", "fiscal_date_ending", "column", "original_value", "new_value", "rule"]
    assert len(log) == 1
    row = log.iloc[0]
    assert (row["ticker"], row["fiscal_date_ending"], row["column"], row["rule"]) == (
        "TEST",
        ts(ends[5]),
        "totalRevenue",
        "spike",
    )
    # Window rows 2..6 = 101, 103, 102, 1000, 104: median 103; replacement = mean of the neighbours.
    assert (float(row["original_value"]), float(row["new_value"])) == (1000.0, 103.0)
    ttm = q["totalRevenue_ttm"].tolist()
    assert ttm[4] == 101 + 103 + 102 + 102  # before the spike
    assert ttm[5] == 1000 + 102 + 103 + 101  # row 5's own TTM: its raw value
    assert ttm[6] == 104 + 103 + 102 + 103  # rows 6..8: the cleaned 103 in place of 1000
    assert ttm[7] == 103 + 104 + 103 + 102
    assert ttm[8] == 105 + 103 + 104 + 103
    assert ttm[9] == 104 + 105 + 103 + 104  # the spike has left the window


def test_daily_rows_show_the_raw_spike_until_the_next_quarter_is_visible():
    ends = q_ends(12)
    revenue = [100, 102, 101, 103, 102, 1000, 104, 103, 105, 104, 106, 105]
    raw = make_raw(ends, income={"totalRevenue": revenue})
    q = build(raw).frame
    daily = daily_for(raw, quarterly=q)
    vf5, vf6 = q["visible_from"].iloc[5], q["visible_from"].iloc[6]
    while_latest = daily[(daily["date"] >= vf5) & (daily["date"] < vf6)]
    assert len(while_latest) > 0
    assert (while_latest["fiscal_date_ending"] == ts(ends[5])).all()
    assert np.allclose(while_latest["totalRevenue_per_share"], 1000 / 1000)
    assert np.allclose(while_latest["totalRevenue_ttm_per_share"], (1000 + 102 + 103 + 101) / 1000)
    on6 = daily[daily["date"] == vf6].iloc[0]
    assert on6["totalRevenue_per_share"] == pytest.approx(104 / 1000)
    assert on6["totalRevenue_ttm_per_share"] == pytest.approx((104 + 103 + 102 + 103) / 1000)


def test_cleaning_decision_is_point_in_time():
    # Spike at quarter 8 (2021-03-31). Quarter 9 (2021-06-30) is reported 2021-08-04, quarter 10
    # (2021-09-30) 2021-11-04. The decision for quarter 8 uses quarters 5..9 only, so a build as of
    # 2021-10-01 (quarter 10 unknown) makes the same decision and gives identical rows 0..9.
    ends = q_ends(12)
    revenue = [100, 102, 101, 103, 102, 104, 103, 105, 1000, 104, 106, 105]
    raw = make_raw(ends, income={"totalRevenue": revenue})
    full = build(raw)
    cut = build(raw, as_of=date(2021, 10, 1))
    assert len(cut.frame) == 10
    for result in (full, cut):
        spikes = result.cleaning_log[result.cleaning_log["rule"] == "spike"]
        assert spikes["fiscal_date_ending"].tolist() == [ts(ends[8])]
        # Window rows 5..9 = 104, 103, 105, 1000, 104: median 104, MAD 1, scale max(1.48, 5.2) = 5.2.
        assert (spikes["original_value"].tolist(), spikes["new_value"].tolist()) == (["1000.0"], ["104.5"])
    pd.testing.assert_frame_equal(cut.frame, full.frame.iloc[:10])
    assert full.frame["totalRevenue_ttm"].iloc[9] == 104 + 104.5 + 105 + 103

    # Before quarter 9 is reported, quarter 8 cannot be judged: no spike, and row 8 is the same as in
    # the full build (a row never depends on the quarter after it).
    early = build(raw, as_of=date(2021, 7, 1), min_quarters=9)
    assert len(early.frame) == 9
    assert (early.cleaning_log["rule"] == "spike").sum() == 0
    pd.testing.assert_frame_equal(early.frame, full.frame.iloc[:9])


def test_every_as_of_cut_reproduces_the_full_history_rows():
    # Point in time for any series: the rows known on as_of never change when later quarters arrive.
    rng = np.random.default_rng(7)
    ends = q_ends(20)
    n = len(ends)
    series = {f: list(1000 * (1 + 0.05 * rng.standard_normal(n))) for f in ("totalRevenue", "ebit", "netIncome")}
    series["totalRevenue"][6] *= 10
    series["ebit"][12] *= -8
    series["netIncome"][13] *= 12
    raw = make_raw(ends, income=series)
    full_result = build(raw)
    full = full_result.frame
    spikes = full_result.cleaning_log
    assert sorted(zip(spikes["column"], spikes["fiscal_date_ending"], strict=True)) == [
        ("ebit", ts(ends[12])),
        ("netIncome", ts(ends[13])),
        ("totalRevenue", ts(ends[6])),
    ]
    for k in range(10, n):
        as_of = (ts(ends[k]) + pd.Timedelta(days=60)).date()  # quarter k reported, k + 1 not yet
        cut = build(raw, as_of=as_of).frame
        assert len(cut) == k + 1
        pd.testing.assert_frame_equal(cut, full.iloc[: k + 1])


def test_noise_is_not_flagged_but_a_tenfold_spike_is():
    # 40 quarters x every cleaned metric (3,440 cells) of Gaussian noise with sd 5 % of the level, levels
    # from 100 to 1e9 of either sign. With the 5 %-of-median scale floor nothing is flagged (the old
    # 5-quarter MAD alone flagged ~1 % of such cells at threshold 8).
    rng = np.random.default_rng(20240601)
    ends = q_ends(40, first="2010-03-31")
    n = len(ends)

    def noise() -> list[float]:
        level = rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(2, 9)
        return list(level * (1 + 0.05 * rng.standard_normal(n)))

    income = {f: noise() for f in INCOME_FIELDS}
    balance = {f: noise() for f in STOCK_METRICS}
    cash = {f: noise() for f in _CASH_FLOW_AV_FIELDS}
    assert sum(map(len, (income, balance, cash))) * n == 3440
    result = build(make_raw(ends, income=income, balance=balance, cash=cash))
    assert (result.cleaning_log["rule"] == "spike").sum() == 0

    income["totalRevenue"][20] *= 10
    cash["capitalExpenditures"][31] *= 10
    result = build(make_raw(ends, income=income, balance=balance, cash=cash))
    spikes = result.cleaning_log[result.cleaning_log["rule"] == "spike"]
    assert sorted(zip(spikes["column"], spikes["fiscal_date_ending"], strict=True)) == [
        ("capitalExpenditures", ts(ends[31])),
        ("totalRevenue", ts(ends[20])),
    ]


def test_level_shift_is_not_flagged():
    # At quarter 5 the window rows 2..6 = 100, 102, 101, 200, 198 give median 102, MAD 2, scale
    # max(1.4826 x 2, 0.05 x 102) = 5.1 and z = 98 / 5.1 ~ 19; the series even "reverts" (200 -> 198),
    # but quarter 6 is as far from the median (z ~ 18.8): not an isolated spike, so nothing changes.
    ends = q_ends(12)
    debt = [100, 101, 100, 102, 101, 200, 198, 201, 199, 200, 202, 201]
    result = build(make_raw(ends, balance={"longTermDebt": debt}))
    assert result.frame["longTermDebt"].tolist() == [float(v) for v in debt]
    assert len(result.cleaning_log) == 0


def test_two_quarter_excursion_is_not_cleaned():
    # Quarter 5 (500) does not revert (the series keeps rising into quarter 6). Quarter 6 (1000) reverts,
    # but its neighbour 500 is itself an outlier against the window (rows 3..7 = 11, 10, 500, 1000, 10:
    # median 11, MAD 1), so it is not an isolated one-quarter spike and the mean (500 + 10) / 2 would be
    # meaningless: nothing is cleaned. (The old centred rule cleaned quarter 6 to 255 because it only
    # asked whether the neighbours were themselves spike candidates, which for t+1 needs quarter t+2.)
    ends = q_ends(12)
    ramp = [10, 11, 10, 11, 10, 500, 1000, 10, 11, 10, 11, 10]
    result = build(make_raw(ends, cash={"capitalExpenditures": ramp}))
    assert result.frame["capitalExpenditures"].tolist() == [float(v) for v in ramp]
    assert len(result.cleaning_log) == 0
    assert result.frame["capitalExpenditures_ttm"].iloc[7] == 10 + 1000 + 500 + 10


def test_cleaning_threshold_is_respected():
    ends = q_ends(12)
    revenue = [100, 102, 101, 103, 102, 1000, 104, 103, 105, 104, 106, 105]
    # Window rows 2..6: median 103, MAD 1; the scale is floored at 0.05 x 103 = 5.15 (not 1.4826 x 1),
    # so z of the spike is (1000 - 103) / 5.15 ~ 174.2.
    raw = make_raw(ends, income={"totalRevenue": revenue})
    assert len(build(raw, outlier_threshold=170.0).cleaning_log) == 1
    result = build(raw, outlier_threshold=180.0)
    assert len(result.cleaning_log) == 0
    assert result.frame["totalRevenue_ttm"].iloc[6] == 104 + 1000 + 102 + 103


# ---------------------------------------------------------------------------------------------------
# Skips, dates and schemas
# ---------------------------------------------------------------------------------------------------


def test_min_quarters_skip():
    result = build(make_raw(q_ends(7)))
    assert result.skipped_reason == "only 7 quarters (< 10)"
    assert result.frame.empty
    assert list(result.frame.columns) == QUARTERLY_SCHEMA.names
    assert build(make_raw(q_ends(7)), min_quarters=7).skipped_reason is None


def test_as_of_cut():
    ends = q_ends(12)  # last quarter 2021-12-31 reported 2022-02-04 (Friday)
    raw = make_raw(ends)
    as_of = date(2021, 12, 1)  # Q3 2021 was reported 2021-11-04; Q4 2021 not yet
    result = build(raw, as_of=as_of)
    assert result.frame["fiscal_date_ending"].max() == ts("2021-09-30")
    assert len(result.cleaning_log) == 0  # the unreported quarter is not "missing", just unknown yet
    daily = daily_for(raw, as_of=as_of, quarterly=result.frame)
    assert daily["date"].max() == ts("2021-12-01")
    assert daily["fiscal_date_ending"].max() == ts("2021-09-30")

    # Reported post-market on the last trading day <= as_of: kept, but visible_from NaT and not shown.
    as_of = date(2021, 11, 4)
    result = build(raw, as_of=as_of)
    last = result.frame.iloc[-1]
    assert last["fiscal_date_ending"] == ts("2021-09-30")
    assert pd.isna(last["visible_from"])
    daily = daily_for(raw, as_of=as_of, quarterly=result.frame)
    assert daily["date"].max() == ts("2021-11-04")
    assert daily["fiscal_date_ending"].max() == ts("2021-06-30")


def test_start_date_bounds_daily_rows_but_earlier_quarters_feed_ttm():
    ends = q_ends(12)
    raw = make_raw(ends, income={"totalRevenue": list(range(1, 13))})
    start = date(2021, 6, 5)  # a Saturday
    daily = daily_for(raw, start=start)
    assert daily["date"].min() == ts("2021-06-07")
    first = daily.iloc[0]
    assert first["fiscal_date_ending"] == ts("2021-03-31")  # reported 2021-05-05, before start_date
    assert first["totalRevenue_ttm_per_share"] == pytest.approx((6 + 7 + 8 + 9) / 1000)


def test_schema_identical_for_a_ticker_with_no_visible_quarters():
    ends = q_ends(12)
    raw = make_raw(ends)
    normal = to_artifact_table(daily_for(raw))
    # Prices that end before the first report: no quarter is ever visible.
    early_prices = parse_daily_prices(prices_payload(pd.bdate_range("2019-01-01", "2019-04-30")))
    q = build(raw).frame
    empty_daily = build_daily_per_share(
        q, early_prices, parse_splits(raw.splits), ticker="TEST", start_date=EARLY, as_of=date(2030, 1, 1)
    )
    assert len(empty_daily) > 0
    assert empty_daily["fiscal_date_ending"].isna().all()
    table = to_artifact_table(empty_daily)
    assert table.schema.equals(ARTIFACT_SCHEMA, check_metadata=True)
    assert normal.schema.equals(ARTIFACT_SCHEMA, check_metadata=True)
    assert table.schema.field("totalRevenue_ttm_per_share").type == pa.float64()
    assert table.column("totalRevenue_ttm_per_share").null_count == len(empty_daily)
    # A skipped ticker's empty quarterly frame also works.
    none = build_daily_per_share(
        build(make_raw(q_ends(3))).frame,
        early_prices,
        pd.DataFrame({"effective_date": [], "split_factor": []}),
        ticker="TEST",
        start_date=EARLY,
        as_of=date(2030, 1, 1),
    )
    assert to_artifact_table(none).schema.equals(ARTIFACT_SCHEMA, check_metadata=True)
    assert list(none.columns) == ARTIFACT_SCHEMA.names


def test_quarterly_rows_read_back_from_parquet_give_the_same_daily_rows(tmp_path):
    ends = q_ends(12)
    raw = make_raw(ends, income={"totalRevenue": list(range(1, 13))}, splits=[("2020-08-31", "2/1")])
    q = build(raw).frame
    table = to_quarterly_table(q)
    assert table.schema.equals(QUARTERLY_SCHEMA, check_metadata=True)
    path = tmp_path / "q.parquet"
    pq.write_table(table, path)
    back = pq.read_table(path).to_pandas()  # dates come back as datetime.date objects
    direct = daily_for(raw, quarterly=q)
    roundtrip = daily_for(raw, quarterly=back)
    pd.testing.assert_frame_equal(direct, roundtrip)
    arrow_backed = pq.read_table(path).to_pandas(types_mapper=pd.ArrowDtype)
    pd.testing.assert_frame_equal(direct, daily_for(raw, quarterly=arrow_backed))
