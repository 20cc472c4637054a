"""Unit tests of parsing Alpha Vantage fundamentals payloads (ops_assets.fundamentals.parsing)."""

from __future__ import annotations

import math

import pytest

from ops_assets.fundamentals.parsing import (
    _CASH_FLOW_AV_FIELDS,
    BALANCE_FIELDS,
    CASH_FLOW_FIELDS,
    INCOME_FIELDS,
    RawTickerData,
    parse_daily_prices,
    parse_earnings,
    parse_quarterly_statements,
    parse_splits,
)
from ops_assets.fundamentals.quarterly import FLOW_METRICS, STOCK_METRICS
from tests.unit.fundamentals_payloads import (
    build,
    daily_for,
    make_raw,
    prices_payload,
    q_ends,
    splits_payload,
    statement,
    ts,
)

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
