"""The daily per-share artifact: each trading day with the latest quarter the market could know.

Stages 7-8 of ``docs/fundamentals.md`` (daily rows, split-consistent per-share values): the **daily artifact**
(:data:`ARTIFACT_SCHEMA`), one row per ticker and trading day, showing the newest quarter of the
quarterly frame (:mod:`ops_assets.fundamentals.quarterly`) visible that day, every value divided by a
share count that is consistent with that day's as-traded (unadjusted) close. Pure: no Dagster, no I/O.
Numbers that were never reported stay missing (NaN / null): nothing is filled with 0.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from ops_assets.fundamentals.parsing import SHARES_FIELD, to_datetime64, to_float
from ops_assets.fundamentals.quarterly import FLOW_METRICS, STOCK_METRICS, TTM_COLUMNS

# ---------------------------------------------------------------------------------------------------
# Artifact columns and schema
# ---------------------------------------------------------------------------------------------------

NOPAT_TAX_RATE = 0.2375  # the original pipeline's flat tax rate for NOPAT

PER_SHARE_COLUMNS: tuple[str, ...] = tuple(f"{m}_per_share" for m in (*FLOW_METRICS, *STOCK_METRICS))
TTM_PER_SHARE_COLUMNS: tuple[str, ...] = tuple(f"{m}_ttm_per_share" for m in FLOW_METRICS)
DERIVED_COLUMNS: tuple[str, ...] = (
    "fcf_ttm_per_share",
    "nopat_ttm_per_share",
    "enterprise_value_per_share",
    "invested_capital_per_share",
)
_ARTIFACT_HEAD: tuple[tuple[str, pa.DataType, bool], ...] = (
    ("ticker", pa.string(), False),
    ("date", pa.date32(), False),
    ("open", pa.float64(), True),
    ("high", pa.float64(), True),
    ("low", pa.float64(), True),
    ("close", pa.float64(), True),
    ("volume", pa.float64(), True),
    ("fiscal_date_ending", pa.date32(), True),
    ("period_end_date", pa.date32(), True),
    ("reported_date", pa.date32(), True),
    ("report_time", pa.string(), True),
    ("visible_from", pa.date32(), True),
    (SHARES_FIELD, pa.float64(), True),
    ("split_factor_since_report", pa.float64(), True),
    ("shares_outstanding_adjusted", pa.float64(), True),
    ("market_cap_millions", pa.float64(), True),
)
ARTIFACT_SCHEMA: pa.Schema = pa.schema(
    [pa.field(name, typ, nullable=nullable) for name, typ, nullable in _ARTIFACT_HEAD]
    + [pa.field(name, pa.float64()) for name in (*PER_SHARE_COLUMNS, *TTM_PER_SHARE_COLUMNS, *DERIVED_COLUMNS)]
    + [pa.field("has_complete_financial_data", pa.bool_(), nullable=False)]
)
ARTIFACT_COLUMNS: tuple[str, ...] = tuple(ARTIFACT_SCHEMA.names)

# Inputs that must all be present for a row to count as "complete" (same list as the original).
COMPLETENESS_COLUMNS: tuple[str, ...] = (
    "close",
    "shares_outstanding_adjusted",
    "totalRevenue_ttm_per_share",
    "netIncome_ttm_per_share",
    "operatingCashflow_ttm_per_share",
    "capitalExpenditures_ttm_per_share",
    "totalAssets_per_share",
    "totalShareholderEquity_per_share",
)


# ---------------------------------------------------------------------------------------------------
# Daily per-share rows
# ---------------------------------------------------------------------------------------------------


def _gather(values: np.ndarray, pos: np.ndarray, fill: object) -> np.ndarray:
    """values[pos] along axis 0, with ``fill`` where pos == -1 (no quarter visible yet)."""
    pad_shape = (1, *values.shape[1:])
    extended = np.concatenate([values, np.full(pad_shape, fill, dtype=values.dtype)], axis=0)
    return extended[pos]  # pos == -1 picks the appended fill row


def _shown_quarters(quarterly: pd.DataFrame, ticker: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """The quarters that ever appear in daily rows, ordered by visible_from (one per visible_from).

    A quarter whose visible_from is later than a newer quarter's (a late or amended filing) would take
    the daily rows back in time, so only quarters newer than everything visible before them are kept;
    on equal visible_from the later fiscal quarter wins.
    """
    q = quarterly
    if "ticker" in q.columns:
        q = q[q["ticker"].astype(str) == ticker]
    visible = to_datetime64(q["visible_from"])
    fiscal = to_datetime64(q["fiscal_date_ending"])
    keep = ~np.isnat(visible) & (visible <= as_of.to_datetime64())
    q = q.loc[keep].assign(_visible=visible[keep], _fiscal=fiscal[keep])
    q = q.sort_values(["_visible", "_fiscal"], kind="stable")
    fiscal_int = q["_fiscal"].to_numpy().astype(np.int64)
    advances = fiscal_int >= np.maximum.accumulate(fiscal_int) if len(q) else np.zeros(0, dtype=bool)
    q = q[advances]
    return q.drop_duplicates("_visible", keep="last").reset_index(drop=True)


def build_daily_per_share(
    quarterly: pd.DataFrame,
    prices: pd.DataFrame,
    splits: pd.DataFrame,
    *,
    ticker: str,
    start_date: date,
    as_of: date,
) -> pd.DataFrame:
    """One row per trading day of ``ticker`` (start_date <= date <= as_of) with per-share fundamentals.

    Each row shows the newest quarter whose ``visible_from`` is on or before that day (nothing before
    the first one: those columns are null). Every per-share value divides by
    ``shares_outstanding_adjusted`` = the reported share count x the splits that took effect after the
    quarter's period end and on or before the row's date, so it matches the as-traded close next to it
    (a 4:1 split quadruples the divisor on the day the close quarters).

    ``quarterly`` is this ticker's rows of the quarterly frame, as built or as read back from parquet
    (datetime64 or datetime.date columns both work; other tickers' rows are ignored). ``prices`` comes
    from :func:`parse_daily_prices`, ``splits`` from :func:`parse_splits`. Columns: ARTIFACT_COLUMNS.
    """
    start_ts, end_ts = pd.Timestamp(start_date), pd.Timestamp(as_of)

    day_all = to_datetime64(prices["date"])
    in_range = (day_all >= start_ts.to_datetime64()) & (day_all <= end_ts.to_datetime64())
    order = np.argsort(day_all[in_range], kind="stable")
    days = day_all[in_range][order]
    n = len(days)
    bars = {c: to_float(prices[c])[in_range][order] for c in ("open", "high", "low", "close", "volume")}

    shown = _shown_quarters(quarterly, ticker, end_ts)
    # Index of the quarter shown on each day (-1 = none visible yet): an as-of join done by bisection.
    pos = np.searchsorted(shown["_visible"].to_numpy(dtype="datetime64[ns]"), days, side="right") - 1

    nat = np.datetime64("NaT", "ns")
    date_cols = {
        name: _gather(to_datetime64(shown[name]), pos, nat)
        for name in ("fiscal_date_ending", "period_end_date", "reported_date")
    }
    visible_from = _gather(shown["_visible"].to_numpy(dtype="datetime64[ns]"), pos, nat)
    report_time = _gather(
        np.array([t if isinstance(t, str) else None for t in shown["report_time"]], dtype=object), pos, None
    )
    shares_reported = _gather(to_float(shown[SHARES_FIELD]), pos, np.nan)

    # Split factor between the quarter's period end and the row's date: cumulative products of the
    # split factors, looked up at both dates (splits effective on a date apply to that date's close).
    eff = to_datetime64(splits["effective_date"]) if len(splits) else np.zeros(0, dtype="datetime64[ns]")
    factors = to_float(splits["split_factor"]) if len(splits) else np.zeros(0)
    split_order = np.argsort(eff, kind="stable")
    eff, factors = eff[split_order], factors[split_order]
    cumulative = np.concatenate([[1.0], np.cumprod(factors)])
    at_day = cumulative[np.searchsorted(eff, days, side="right")]
    at_period_end = cumulative[np.searchsorted(eff, date_cols["period_end_date"], side="right")]
    split_factor = np.where(pos >= 0, at_day / at_period_end, np.nan)
    shares_adjusted = shares_reported * split_factor
    # A zero or negative share count is a data error: per-share values would be inf or sign-flipped.
    with np.errstate(invalid="ignore"):
        shares_adjusted = np.where(shares_adjusted > 0, shares_adjusted, np.nan)

    per_share_src = (
        np.column_stack([to_float(shown[m]) for m in (*FLOW_METRICS, *STOCK_METRICS, *TTM_COLUMNS)])
        if len(shown)
        else np.zeros((0, len(PER_SHARE_COLUMNS) + len(TTM_PER_SHARE_COLUMNS)))
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        per_share = _gather(per_share_src, pos, np.nan) / shares_adjusted[:, None]
    col = {name: i for i, name in enumerate((*FLOW_METRICS, *STOCK_METRICS, *TTM_COLUMNS))}

    def ps(metric: str) -> np.ndarray:
        return per_share[:, col[metric]]

    close = bars["close"]
    data: dict[str, object] = {
        "ticker": np.full(n, ticker, dtype=object),
        "date": days,
        **bars,
        **date_cols,
        "report_time": report_time,
        "visible_from": visible_from,
        SHARES_FIELD: shares_reported,
        "split_factor_since_report": split_factor,
        "shares_outstanding_adjusted": shares_adjusted,
        "market_cap_millions": close * shares_adjusted / 1e6,
    }
    names = (*PER_SHARE_COLUMNS, *TTM_PER_SHARE_COLUMNS)
    data.update({name: per_share[:, i] for i, name in enumerate(names)})
    data["fcf_ttm_per_share"] = ps("operatingCashflow_ttm") - ps("capitalExpenditures_ttm")
    # np.maximum propagates NaN, so a missing input makes NOPAT missing rather than 0-filled.
    data["nopat_ttm_per_share"] = (
        ps("ebit_ttm") + np.maximum(ps("depreciationAndAmortization_ttm") - ps("depreciation_ttm"), 0.0)
    ) * (1.0 - NOPAT_TAX_RATE)
    net_debt = ps("shortLongTermDebtTotal") - ps("cashAndShortTermInvestments")
    data["enterprise_value_per_share"] = close + net_debt
    data["invested_capital_per_share"] = ps("totalShareholderEquity") + net_debt
    complete = np.ones(n, dtype=bool)
    for name in COMPLETENESS_COLUMNS:
        complete &= ~np.isnan(np.asarray(data[name], dtype="float64"))
    data["has_complete_financial_data"] = complete
    return pd.DataFrame(data, columns=list(ARTIFACT_COLUMNS))


def to_artifact_table(daily: pd.DataFrame) -> pa.Table:
    """The daily frame as an Arrow table with exactly :data:`ARTIFACT_SCHEMA` (metadata included), so
    every ticker's table can be streamed into one ParquetWriter."""
    table = pa.Table.from_pandas(daily[list(ARTIFACT_COLUMNS)], schema=ARTIFACT_SCHEMA, preserve_index=False)
    return table.replace_schema_metadata(ARTIFACT_SCHEMA.metadata)
