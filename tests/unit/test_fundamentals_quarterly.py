"""Unit tests of the quarterly financials (ops_assets.fundamentals.quarterly): TTM, visibility, cleaning."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from ops_assets.fundamentals.parsing import _CASH_FLOW_AV_FIELDS, INCOME_FIELDS
from ops_assets.fundamentals.quarterly import QUARTERLY_SCHEMA, STOCK_METRICS
from tests.unit.fundamentals_payloads import build, daily_for, make_raw, q_ends, ts

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
# Skips and dates
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
