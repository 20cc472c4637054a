"""Quarterly financials: one ticker's statements -> cleaned quarters with TTM sums and visibility dates.

Stages 3-6 of ``docs/fundamentals.md`` (quarters, spike cleaning, TTM, visibility): the **quarterly frame**
(:data:`QUARTERLY_SCHEMA`), one row per usable fiscal quarter of a ticker, with every statement field,
the trailing-twelve-month (TTM) sums of the flow metrics, and the first trading day on which the
quarter's numbers were public (``visible_from``); beside it a cleaning log of what was dropped or
corrected. Pure: no Dagster, no I/O. Numbers that were never reported stay missing (NaN / null): nothing
is filled with 0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from ops_assets.fundamentals.parsing import (
    BALANCE_FIELDS,
    CASH_FLOW_FIELDS,
    INCOME_FIELDS,
    SHARES_FIELD,
    RawTickerData,
    format_log_date,
    parse_daily_prices,
    parse_earnings_with_log,
    parse_statements_with_log,
    to_datetime64,
)

# ---------------------------------------------------------------------------------------------------
# Metrics, cleaning parameters and the quarterly schema
# ---------------------------------------------------------------------------------------------------

FLOW_METRICS: tuple[str, ...] = INCOME_FIELDS + CASH_FLOW_FIELDS
STOCK_METRICS: tuple[str, ...] = tuple(f for f in BALANCE_FIELDS if f != SHARES_FIELD)
TTM_COLUMNS: tuple[str, ...] = tuple(f"{m}_ttm" for m in FLOW_METRICS)
# Share counts are not cleaned: a split is a genuine one-quarter jump that must not be "repaired".
CLEANED_METRICS: tuple[str, ...] = FLOW_METRICS + STOCK_METRICS

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution x 1.4826 = its standard deviation
# Spike cleaning is point-in-time: the decision for quarter t uses quarters t-3..t+1 only (the reversion
# test needs t+1), so it is knowable from visible_from(t+1), and the cleaned value only feeds the TTM
# sums of the later quarters t+1..t+3 (see build_quarterly_financials).
SPIKE_WINDOW = 5  # trailing window (quarters t-3..t+1) of the robust z-score
SPIKE_LEAD = 1  # quarters after t that the window (and the reversion test) may use
SPIKE_MIN_VALUES = 4  # fewest non-missing values in that window for a usable median / MAD
# Floor of the robust scale as a fraction of |median|: scale = max(1.4826 x MAD, 0.05 x |median|).
# Five values give a very unstable MAD: when three of them happen to be close it collapses, and
# ordinary quarter-to-quarter noise scores z > 8 (about 1 % of cells for noise with sd 5 % of the
# level). With the floor, a spike must be at least threshold x 5 % (40 % at the default 8) away from
# the window median, far outside normal variation of a financial line item.
SPIKE_MIN_SCALE_FRACTION = 0.05

CLEANING_LOG_COLUMNS: tuple[str, ...] = (
    "ticker",
    "fiscal_date_ending",
    "column",
    "original_value",
    "new_value",
    "rule",
)

_QUARTERLY_HEAD: tuple[tuple[str, pa.DataType, bool], ...] = (
    ("ticker", pa.string(), False),
    ("fiscal_date_ending", pa.date32(), False),
    ("period_end_date", pa.date32(), False),
    ("calendar_quarter", pa.string(), False),
    ("reported_date", pa.date32(), False),
    ("report_time", pa.string(), True),
    ("visible_from", pa.date32(), True),
    (SHARES_FIELD, pa.float64(), True),
)
QUARTERLY_COLUMNS: tuple[str, ...] = (
    *(name for name, _, _ in _QUARTERLY_HEAD),
    *FLOW_METRICS,
    *STOCK_METRICS,
    *TTM_COLUMNS,
)
QUARTERLY_SCHEMA: pa.Schema = pa.schema(
    [pa.field(name, typ, nullable=nullable) for name, typ, nullable in _QUARTERLY_HEAD]
    + [pa.field(name, pa.float64()) for name in (*FLOW_METRICS, *STOCK_METRICS, *TTM_COLUMNS)]
)


@dataclass(frozen=True)
class QuarterlyResult:
    """One ticker's quarterly financials, what cleaning changed, and why the ticker was skipped (if)."""

    frame: pd.DataFrame  # QUARTERLY_COLUMNS; empty when skipped_reason is set
    cleaning_log: pd.DataFrame  # CLEANING_LOG_COLUMNS
    skipped_reason: str | None


# ---------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------


def _month_index(dt: np.ndarray) -> np.ndarray:
    """Months since 1970-01 (int64) of datetime64 values, for 'exactly 3 months apart' tests."""
    return dt.astype("datetime64[M]").astype(np.int64)


def _empty_log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": pd.Series(dtype=object),
            "fiscal_date_ending": pd.Series(dtype="datetime64[ns]"),
            "column": pd.Series(dtype=object),
            "original_value": pd.Series(dtype=object),
            "new_value": pd.Series(dtype=object),
            "rule": pd.Series(dtype=object),
        }
    )


def _log_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return _empty_log()
    frame = pd.DataFrame(rows, columns=list(CLEANING_LOG_COLUMNS))
    frame["fiscal_date_ending"] = to_datetime64(frame["fiscal_date_ending"])
    return frame


def _fmt_value(value: float) -> str | None:
    """Log values as text so one column can hold numbers (repr round-trips exactly) and dates."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else repr(float(value))


def _empty_quarterly_frame() -> pd.DataFrame:
    data: dict[str, pd.Series] = {
        "ticker": pd.Series(dtype=object),
        "fiscal_date_ending": pd.Series(dtype="datetime64[ns]"),
        "period_end_date": pd.Series(dtype="datetime64[ns]"),
        "calendar_quarter": pd.Series(dtype=object),
        "reported_date": pd.Series(dtype="datetime64[ns]"),
        "report_time": pd.Series(dtype=object),
        "visible_from": pd.Series(dtype="datetime64[ns]"),
    }
    for name in (SHARES_FIELD, *FLOW_METRICS, *STOCK_METRICS, *TTM_COLUMNS):
        data[name] = pd.Series(dtype="float64")
    return pd.DataFrame(data)


# ---------------------------------------------------------------------------------------------------
# Cleaning, TTM sums and visibility
# ---------------------------------------------------------------------------------------------------


def _flag_spikes(values: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Isolated one-quarter spikes in each column of ``values`` (quarters x metrics, oldest first).

    Returns (cleaned values, flag mask). Point-in-time: the decision for row t uses rows t-3..t+1 only.
    Robust z = |x_t - median| / scale over that trailing 5-row window (>= 4 non-missing values), with
    scale = max(1.4826 x MAD, SPIKE_MIN_SCALE_FRACTION x |median|) > 0. A cell is a spike when z exceeds
    ``threshold``, both neighbours are present, the series reverts (the steps into and out of the cell
    have opposite signs: a spike, not a level shift) and it is isolated: neither neighbour is itself an
    outlier against the same window (z of x_{t-1} and x_{t+1} <= threshold; two adjacent extreme
    quarters are not a one-quarter spike and their mean would be meaningless). A flagged cell's cleaned
    value is the mean of its neighbours; nothing else changes and NaN cells are never filled.
    """
    n, k = values.shape
    flags = np.zeros((n, k), dtype=bool)
    if n < 3 or k == 0:
        return values.copy(), flags
    lag = SPIKE_WINDOW - 1 - SPIKE_LEAD
    padded = np.full((n + SPIKE_WINDOW - 1, k), np.nan)
    padded[lag : lag + n] = values
    windows = sliding_window_view(padded, SPIKE_WINDOW, axis=0)  # (n, k, 5): rows t-3..t+1
    nan_row = np.full((1, k), np.nan)
    prev = np.vstack([nan_row, values[:-1]])
    nxt = np.vstack([values[1:], nan_row])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: handled by the count test
        median = np.nanmedian(windows, axis=-1)
        mad = np.nanmedian(np.abs(windows - median[..., None]), axis=-1)
        scale = np.maximum(MAD_TO_SIGMA * mad, SPIKE_MIN_SCALE_FRACTION * np.abs(median))
        z = np.abs(values - median) / scale
        z_prev = np.abs(prev - median) / scale
        z_next = np.abs(nxt - median) / scale
        count = np.sum(~np.isnan(windows), axis=-1)
        flags = (
            (count >= SPIKE_MIN_VALUES)
            & (scale > 0)
            & np.isfinite(values)
            & np.isfinite(prev)
            & np.isfinite(nxt)
            & (z > threshold)
            & ((values - prev) * (nxt - values) < 0)  # reverts: a spike, not a level shift
            & (z_prev <= threshold)  # isolated: the neighbours look normal against the same window
            & (z_next <= threshold)
        )
    cleaned = np.where(flags, (prev + nxt) / 2.0, values)
    return cleaned, flags


def _ttm(values: np.ndarray, fiscal: np.ndarray, earlier: np.ndarray | None = None) -> np.ndarray:
    """Sum of each quarter and the three before it, only over four consecutive calendar quarters.

    ``values`` is quarters x metrics (oldest first), ``fiscal`` the normalized month ends. The quarter's
    own term comes from ``values``; the three earlier terms come from ``earlier`` (same shape, default
    ``values``): the pipeline passes the raw values and the spike-cleaned ones, so a quarter's own TTM
    uses its value as reported and a cleaned value only enters the TTM of the quarters after it. Any
    missing value or any gap (months not exactly 3 apart) in the window -> NaN; a gap never counts as 0.
    """
    if earlier is None:
        earlier = values
    n, k = values.shape
    out = np.full((n, k), np.nan)
    if n < 4:
        return out
    months = _month_index(fiscal)
    step_ok = np.zeros(n, dtype=bool)
    step_ok[1:] = np.diff(months) == 3
    window_ok = np.zeros(n, dtype=bool)
    window_ok[3:] = step_ok[3:] & step_ok[2:-1] & step_ok[1:-2]
    # NaN + anything = NaN, so a missing value in the window makes the sum missing.
    sums = values[3:] + earlier[2:-1] + earlier[1:-2] + earlier[:-3]
    out[3:] = np.where(window_ok[3:, None], sums, np.nan)
    return out


def _visible_from(reported: np.ndarray, report_time: pd.Series, trading_days: np.ndarray) -> np.ndarray:
    """First trading day on which a report could be traded on (no look-ahead).

    pre-market -> the reported day itself if it is a trading day, else the next one; post-market or
    unknown time -> the first trading day strictly after the reported day (an unknown-time report on a
    trading day may have come after the close). Past the last trading day -> NaT.
    """
    pre = (report_time == "pre-market").to_numpy()
    idx_on_or_after = np.searchsorted(trading_days, reported, side="left")
    idx_after = np.searchsorted(trading_days, reported, side="right")
    idx = np.where(pre, idx_on_or_after, idx_after)
    out = np.full(len(reported), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = (idx < len(trading_days)) & ~np.isnat(reported)
    out[ok] = trading_days[idx[ok]]
    return out


def build_quarterly_financials(
    raw: RawTickerData,
    *,
    start_date: date,
    as_of: date,
    min_quarters: int = 10,
    outlier_threshold: float = 8.0,
) -> QuarterlyResult:
    """A ticker's usable quarters with TTM sums and the day each became public, as known on ``as_of``.

    Steps: parse the three statements (quarters present in all three), attach EARNINGS' reportedDate /
    reportTime on the normalized month end, keep only quarters reported on or before ``as_of`` (a
    quarter with no reported date at all is dropped and logged as "no_reported_date"), skip the ticker
    when fewer than ``min_quarters`` remain, detect isolated one-quarter spikes point-in-time (logged as
    "spike"), sum the flow metrics over four consecutive quarters (``<flow>_ttm``) and compute
    ``visible_from`` from the ticker's trading days up to ``as_of``.

    Cleaning never uses information the market did not have: the spike decision for quarter t looks at
    quarters t-3..t+1 only, so it is knowable from visible_from(t+1). Row t therefore keeps its reported
    metric values, and ``<flow>_ttm`` of row q = reported_q + cleaned_{q-1} + cleaned_{q-2} +
    cleaned_{q-3}: a spike's corrected value (the log's ``new_value``) enters only the TTM of the three
    later quarters.

    ``start_date`` does not remove quarters: earlier quarters feed the TTM windows and the first daily
    rows; it only bounds the daily artifact (:func:`build_daily_per_share`). Malformed payloads (AV
    error bodies, missing keys) raise ValueError.
    """
    del start_date  # kept for a uniform call signature; quarters before it are still needed for TTM
    ticker = raw.ticker
    as_of_ts = pd.Timestamp(as_of)
    statements, log = parse_statements_with_log(raw.income_statement, raw.balance_sheet, raw.cash_flow, ticker)
    earnings, earnings_log = parse_earnings_with_log(raw.earnings, ticker)
    log += earnings_log
    prices = parse_daily_prices(raw.daily_prices)

    # Nothing after as_of: a quarter reported later is unknown on as_of (dropped silently, not logged,
    # so the log itself does not leak the future).
    known = earnings[earnings["reported_date"].notna() & (earnings["reported_date"] <= as_of_ts)]
    reported_later = set(earnings.loc[earnings["reported_date"] > as_of_ts, "fiscal_date_ending"])
    quarters = statements.merge(
        known[["fiscal_date_ending", "reported_date", "report_time"]], on="fiscal_date_ending", how="left"
    )
    missing = quarters["reported_date"].isna()
    future = quarters["fiscal_date_ending"].isin(reported_later) | (quarters["fiscal_date_ending"] > as_of_ts)
    for fde, ped in quarters.loc[missing & ~future, ["fiscal_date_ending", "period_end_date"]].itertuples(index=False):
        log.append(
            {
                "ticker": ticker,
                "fiscal_date_ending": fde,
                "column": "reported_date",
                "original_value": format_log_date(ped),
                "new_value": None,
                "rule": "no_reported_date",
            }
        )
    quarters = quarters[~missing].reset_index(drop=True)

    if len(quarters) < min_quarters:
        return QuarterlyResult(
            frame=_empty_quarterly_frame(),
            cleaning_log=_log_frame(log),
            skipped_reason=f"only {len(quarters)} quarters (< {min_quarters})",
        )

    fiscal = quarters["fiscal_date_ending"].to_numpy(dtype="datetime64[ns]")
    metrics = quarters[list(CLEANED_METRICS)].to_numpy(dtype="float64")
    cleaned, flags = _flag_spikes(metrics, outlier_threshold)
    for row, col in zip(*np.nonzero(flags), strict=True):
        log.append(
            {
                "ticker": ticker,
                "fiscal_date_ending": fiscal[row],
                "column": CLEANED_METRICS[col],
                "original_value": _fmt_value(metrics[row, col]),
                "new_value": _fmt_value(cleaned[row, col]),
                "rule": "spike",
            }
        )
    n_flow = len(FLOW_METRICS)
    # Point-in-time: the cleaned value of quarter t is known only from visible_from(t+1), so row t keeps
    # its reported values (metric columns and its own TTM term); the cleaned value is used only in the
    # TTM of rows t+1..t+3, which become visible no earlier than that.
    ttm = _ttm(metrics[:, :n_flow], fiscal, earlier=cleaned[:, :n_flow])

    days = prices["date"].to_numpy(dtype="datetime64[ns]")
    days = days[days <= as_of_ts.to_datetime64()]
    visible = _visible_from(quarters["reported_date"].to_numpy(dtype="datetime64[ns]"), quarters["report_time"], days)

    columns: dict[str, object] = {
        "ticker": np.full(len(quarters), ticker, dtype=object),
        "fiscal_date_ending": fiscal,
        "period_end_date": quarters["period_end_date"].to_numpy(dtype="datetime64[ns]"),
        "calendar_quarter": pd.PeriodIndex(fiscal, freq="Q").astype(str).to_numpy(dtype=object),
        "reported_date": quarters["reported_date"].to_numpy(dtype="datetime64[ns]"),
        "report_time": quarters["report_time"].astype(object).where(quarters["report_time"].notna(), None),
        "visible_from": visible,
        SHARES_FIELD: quarters[SHARES_FIELD].to_numpy(dtype="float64"),
    }
    columns.update({name: metrics[:, i] for i, name in enumerate(CLEANED_METRICS)})  # as reported
    columns.update({name: ttm[:, i] for i, name in enumerate(TTM_COLUMNS)})
    frame = pd.DataFrame(columns)[list(QUARTERLY_COLUMNS)]
    return QuarterlyResult(frame=frame, cleaning_log=_log_frame(log), skipped_reason=None)


def to_quarterly_table(quarterly: pd.DataFrame) -> pa.Table:
    """The quarterly frame (one or many tickers) as an Arrow table with exactly :data:`QUARTERLY_SCHEMA`."""
    table = pa.Table.from_pandas(quarterly[list(QUARTERLY_COLUMNS)], schema=QUARTERLY_SCHEMA, preserve_index=False)
    return table.replace_schema_metadata(QUARTERLY_SCHEMA.metadata)
