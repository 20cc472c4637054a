"""Unit tests of the daily per-share artifact (ops_assets.fundamentals.daily) on hand-built payloads."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ops_assets.fundamentals.daily import ARTIFACT_SCHEMA, build_daily_per_share, to_artifact_table
from ops_assets.fundamentals.parsing import parse_daily_prices, parse_splits
from ops_assets.fundamentals.quarterly import QUARTERLY_SCHEMA, to_quarterly_table
from tests.unit.fundamentals_payloads import EARLY, build, daily_for, make_raw, prices_payload, q_ends, ts

# ---------------------------------------------------------------------------------------------------
# Visibility
# ---------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------
# Dates and schemas
# ---------------------------------------------------------------------------------------------------


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
