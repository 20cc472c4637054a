"""Alpha Vantage fundamentals -> quarterly TTM financials -> daily per-share artifact.

This module is the maths of the original R pipeline's stages 1-4 (see ``docs/fundamentals.md``), with
its known bugs fixed on purpose. It is pure: it reads the raw Alpha Vantage (AV) JSON payloads of one
ticker and returns pandas frames / pyarrow tables; fetching, storage and orchestration live elsewhere.

Two products:

* the **quarterly frame** (:data:`QUARTERLY_SCHEMA`): one row per usable fiscal quarter of a ticker,
  with every statement field, the trailing-twelve-month (TTM) sums of the flow metrics, and the first
  trading day on which the quarter's numbers were public (``visible_from``);
* the **daily artifact** (:data:`ARTIFACT_SCHEMA`): one row per ticker and trading day, showing the
  latest quarter the market could know that day, every value divided by a share count that is
  consistent with that day's as-traded (unadjusted) close.

Numbers that were never reported stay missing (NaN / null) everywhere: nothing is filled with 0.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from resources.alpha_vantage_fields import BALANCE_SHEET_FIELDS, INCOME_STATEMENT_FIELDS
from resources.alpha_vantage_fields import CASH_FLOW_FIELDS as AV_CASH_FLOW_FIELDS

# ---------------------------------------------------------------------------------------------------
# Field lists (Alpha Vantage's camelCase, in the order of the reference document)
# ---------------------------------------------------------------------------------------------------

INCOME_FIELDS: tuple[str, ...] = INCOME_STATEMENT_FIELDS

SHARES_FIELD = "commonStockSharesOutstanding"

BALANCE_FIELDS: tuple[str, ...] = BALANCE_SHEET_FIELDS

# The cash-flow statement's own spelling; ``netIncome`` is renamed below because the income statement
# has a field of the same name (they usually agree, but not always: different consolidation scopes).
_CASH_FLOW_AV_FIELDS: tuple[str, ...] = AV_CASH_FLOW_FIELDS
_CASH_FLOW_RENAMES = {"netIncome": "netIncome_cashflow"}
CASH_FLOW_FIELDS: tuple[str, ...] = tuple(_CASH_FLOW_RENAMES.get(f, f) for f in _CASH_FLOW_AV_FIELDS)

# 2021-22 responses spelled this balance-sheet field with three r's.
_BALANCE_MISSPELLINGS = {"otherNonCurrrentAssets": "otherNonCurrentAssets"}

FLOW_METRICS: tuple[str, ...] = INCOME_FIELDS + CASH_FLOW_FIELDS
STOCK_METRICS: tuple[str, ...] = tuple(f for f in BALANCE_FIELDS if f != SHARES_FIELD)
TTM_COLUMNS: tuple[str, ...] = tuple(f"{m}_ttm" for m in FLOW_METRICS)
# Share counts are not cleaned: a split is a genuine one-quarter jump that must not be "repaired".
CLEANED_METRICS: tuple[str, ...] = FLOW_METRICS + STOCK_METRICS

NOPAT_TAX_RATE = 0.2375  # the original pipeline's flat tax rate for NOPAT
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

REPORT_TIMES = ("pre-market", "post-market")
CLEANING_LOG_COLUMNS: tuple[str, ...] = (
    "ticker",
    "fiscal_date_ending",
    "column",
    "original_value",
    "new_value",
    "rule",
)

# ---------------------------------------------------------------------------------------------------
# Output schemas
# ---------------------------------------------------------------------------------------------------

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
# Data classes
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawTickerData:
    """The raw AV JSON payloads of one ticker, exactly as the API returned them."""

    ticker: str
    income_statement: dict
    balance_sheet: dict
    cash_flow: dict
    earnings: dict
    daily_prices: dict  # TIME_SERIES_DAILY payload
    splits: dict  # SPLITS payload


@dataclass(frozen=True)
class QuarterlyResult:
    """One ticker's quarterly financials, what cleaning changed, and why the ticker was skipped (if)."""

    frame: pd.DataFrame  # QUARTERLY_COLUMNS; empty when skipped_reason is set
    cleaning_log: pd.DataFrame  # CLEANING_LOG_COLUMNS
    skipped_reason: str | None


# ---------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------

_API_MESSAGE_KEYS = ("Error Message", "Information", "Note")


def _check_payload(payload: object, what: str, required_key: str) -> dict:
    """Raise a clear ValueError for AV error/throttle bodies (they arrive with HTTP 200)."""
    if not isinstance(payload, dict):
        raise ValueError(f"{what}: expected a JSON object, got {type(payload).__name__}")
    for key in _API_MESSAGE_KEYS:
        if key in payload:
            raise ValueError(f"{what}: Alpha Vantage answered {key!r}: {str(payload[key])[:200]!r}, not data")
    if required_key not in payload:
        raise ValueError(f"{what}: payload has no {required_key!r} key (keys: {sorted(payload)[:10]})")
    return payload


def _to_datetime64(values: object) -> np.ndarray:
    """Any date-like column (datetime64, datetime.date objects, pyarrow dates, strings) -> datetime64[ns]."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if not isinstance(series.dtype, np.dtype) or series.dtype.kind != "M":
        series = pd.to_datetime(series, errors="coerce")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    return series.to_numpy(dtype="datetime64[ns]")


def _to_float(values: pd.Series) -> np.ndarray:
    """Numeric column (float, nullable, pyarrow or object with None) -> float64 with NaN for missing."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def normalize_fiscal_dates(values: object) -> np.ndarray:
    """The calendar month end a fiscal period belongs to (datetime64[ns]).

    Day 1-15 -> the previous month's last day (a 52/53-week year ending 2021-08-01 is the July quarter);
    day 16-31 -> that month's last day. Statements and EARNINGS are joined on this normalized date.
    """
    dt = _to_datetime64(values)
    missing = np.isnat(dt)
    months = dt.astype("datetime64[M]")
    day = (dt.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64) + 1
    months = np.where(day <= 15, months - np.timedelta64(1, "M"), months)
    out = ((months + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")).astype("datetime64[ns]")
    out[missing] = np.datetime64("NaT")
    return out


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
    frame["fiscal_date_ending"] = _to_datetime64(frame["fiscal_date_ending"])
    return frame


def _fmt_value(value: float) -> str | None:
    """Log values as text so one column can hold numbers (repr round-trips exactly) and dates."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else repr(float(value))


def _fmt_date(value: object) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


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
# Parsing
# ---------------------------------------------------------------------------------------------------

_PRICE_KEYS = ("1. open", "2. high", "3. low", "4. close")


def parse_daily_prices(payload: dict) -> pd.DataFrame:
    """Daily as-traded (split-unadjusted) prices from a TIME_SERIES_DAILY payload, oldest first.

    Columns: date (datetime64[ns]), open, high, low, close, volume (all float64). Also accepts the
    _ADJUSTED variant (its volume key is "6. volume"); its adjusted close is ignored on purpose because
    per-share values are made consistent with the as-traded close instead.
    """
    series = _check_payload(payload, "TIME_SERIES_DAILY", "Time Series (Daily)")["Time Series (Daily)"] or {}
    if not series:
        return pd.DataFrame(
            {
                "date": pd.Series(dtype="datetime64[ns]"),
                **{c: pd.Series(dtype="float64") for c in ("open", "high", "low", "close", "volume")},
            }
        )
    bars = list(series.values())
    volume_key = "5. volume" if "5. volume" in bars[0] else "6. volume"
    keys = (*_PRICE_KEYS, volume_key)
    # Building one object array and letting pandas coerce is ~10x faster than a frame of dicts.
    raw = np.array([[bar.get(k) for k in keys] for bar in bars], dtype=object)
    frame = pd.DataFrame({"date": pd.to_datetime(list(series.keys()), format="%Y-%m-%d")})
    for i, name in enumerate(("open", "high", "low", "close", "volume")):
        frame[name] = pd.to_numeric(pd.Series(raw[:, i]), errors="coerce").astype("float64")
    return frame.sort_values("date", kind="stable").drop_duplicates("date", keep="last").reset_index(drop=True)


_RATIO = re.compile(r"^\s*([0-9.eE+-]+)\s*[/:]\s*([0-9.eE+-]+)\s*$")


def _parse_split_factor(text: object) -> float:
    """'4.0000' -> 4.0; '4/1' or '4:1' -> 4.0; a reverse 1-for-10 split is '0.1000' or '1/10'."""
    try:
        match = _RATIO.match(str(text))
        value = float(match.group(1)) / float(match.group(2)) if match else float(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"SPLITS: unparsable split_factor {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"SPLITS: split_factor must be a positive number (new/old shares), got {text!r}")
    return value


def parse_splits(payload: dict) -> pd.DataFrame:
    """Stock splits, oldest first: effective_date (datetime64[ns]) and split_factor (new / old shares).

    A 4-for-1 split has factor 4.0 (each old share became four); a 1-for-10 reverse split 0.1.
    A factor <= 0 or one that cannot be read raises ValueError: a wrong factor would silently corrupt
    every per-share value after it.
    """
    data = _check_payload(payload, "SPLITS", "data")["data"] or []
    dates = pd.to_datetime([row.get("effective_date") for row in data], errors="coerce")
    if len(data) and dates.isna().any():
        bad = [row.get("effective_date") for row, d in zip(data, dates, strict=True) if pd.isna(d)]
        raise ValueError(f"SPLITS: unparsable effective_date {bad[0]!r}")
    frame = pd.DataFrame(
        {
            "effective_date": pd.Series(np.asarray(dates, dtype="datetime64[ns]")),
            "split_factor": pd.Series([_parse_split_factor(row.get("split_factor")) for row in data], dtype="float64"),
        }
    )
    return frame.sort_values("effective_date", kind="stable").reset_index(drop=True)


def _dedupe_periods(frame: pd.DataFrame, source: str, ticker: str) -> tuple[pd.DataFrame, list[dict]]:
    """Keep one report per normalized month (the later-dated one) and log the others.

    ``frame`` has ``period_end_date`` (the report's own date) and ``fiscal_date_ending`` (normalized).
    Identical dates keep the first in payload order (AV lists the newest first).
    """
    ordered = frame.sort_values("period_end_date", ascending=False, kind="stable")
    dropped_mask = ordered["fiscal_date_ending"].duplicated(keep="first")
    if not dropped_mask.any():
        return ordered.sort_values("fiscal_date_ending").reset_index(drop=True), []
    kept = ordered[~dropped_mask]
    kept_date = dict(zip(kept["fiscal_date_ending"], kept["period_end_date"], strict=True))
    log = [
        {
            "ticker": ticker,
            "fiscal_date_ending": fde,
            "column": source,
            "original_value": _fmt_date(ped),  # the report that was dropped
            "new_value": _fmt_date(kept_date[fde]),  # the report that was kept
            "rule": "duplicate_period",
        }
        for fde, ped in zip(
            ordered.loc[dropped_mask, "fiscal_date_ending"],
            ordered.loc[dropped_mask, "period_end_date"],
            strict=True,
        )
    ]
    return kept.sort_values("fiscal_date_ending").reset_index(drop=True), log


def _parse_statement(
    payload: dict, what: str, av_fields: tuple[str, ...], renames: dict[str, str], ticker: str
) -> tuple[pd.DataFrame, list[dict]]:
    reports = _check_payload(payload, what, "quarterlyReports")["quarterlyReports"] or []
    raw = pd.DataFrame.from_records(reports) if reports else pd.DataFrame({"fiscalDateEnding": []})
    for wrong, right in _BALANCE_MISSPELLINGS.items():
        if wrong in raw.columns:
            # Prefer the correct spelling where both exist; fill from the misspelt one otherwise.
            # Reports of mixed vintages mix both spellings, so this is decided report by report.
            fallback = raw[wrong].where(raw[wrong].notna() & (raw[wrong].astype(str) != "None"))
            if right in raw.columns:
                present = raw[right].notna() & (raw[right].astype(str) != "None")
                raw[right] = raw[right].where(present, fallback)
            else:
                raw[right] = fallback
    period_end = _to_datetime64(raw.get("fiscalDateEnding", pd.Series(dtype=object)))
    columns: dict[str, object] = {
        "fiscal_date_ending": normalize_fiscal_dates(period_end),
        "period_end_date": period_end,
    }
    for field in av_fields:
        # "None" (and anything else that is not a number) -> NaN; a field AV never sent -> NaN, not 0.
        columns[renames.get(field, field)] = (
            _to_float(raw[field]) if field in raw.columns else np.full(len(raw), np.nan)
        )
    frame = pd.DataFrame(columns)
    frame = frame[~np.isnat(period_end)]
    return _dedupe_periods(frame, what, ticker)


def _parse_statements_with_log(
    income: dict, balance: dict, cash_flow: dict, ticker: str
) -> tuple[pd.DataFrame, list[dict]]:
    inc, log_i = _parse_statement(income, "INCOME_STATEMENT", INCOME_FIELDS, {}, ticker)
    bal, log_b = _parse_statement(balance, "BALANCE_SHEET", BALANCE_FIELDS, {}, ticker)
    cfl, log_c = _parse_statement(cash_flow, "CASH_FLOW", _CASH_FLOW_AV_FIELDS, _CASH_FLOW_RENAMES, ticker)
    # period_end_date comes from the balance sheet: the share count (and so split adjustment) is
    # measured at that date.
    merged = bal.merge(inc.drop(columns="period_end_date"), on="fiscal_date_ending", how="inner").merge(
        cfl.drop(columns="period_end_date"), on="fiscal_date_ending", how="inner"
    )
    ordered = ["fiscal_date_ending", "period_end_date", *INCOME_FIELDS, *BALANCE_FIELDS, *CASH_FLOW_FIELDS]
    return merged[ordered].sort_values("fiscal_date_ending").reset_index(drop=True), log_i + log_b + log_c


def parse_quarterly_statements(income: dict, balance: dict, cash_flow: dict) -> pd.DataFrame:
    """One row per fiscal quarter present in all three statements, oldest first.

    Columns: fiscal_date_ending (normalized calendar month end), period_end_date (the balance sheet's
    own fiscalDateEnding, e.g. a 52/53-week end), then INCOME_FIELDS, BALANCE_FIELDS, CASH_FLOW_FIELDS
    as float64. "None" and never-reported fields are NaN. When two reports of one statement fall in the
    same normalized month, the later-dated one is kept.
    """
    frame, _ = _parse_statements_with_log(income, balance, cash_flow, ticker="")
    return frame


def _parse_earnings_with_log(payload: dict, ticker: str) -> tuple[pd.DataFrame, list[dict]]:
    rows = _check_payload(payload, "EARNINGS", "quarterlyEarnings")["quarterlyEarnings"] or []
    period_end = _to_datetime64(pd.Series([r.get("fiscalDateEnding") for r in rows], dtype=object))
    times = [r.get("reportTime") for r in rows]
    frame = pd.DataFrame(
        {
            "fiscal_date_ending": normalize_fiscal_dates(period_end),
            "period_end_date": period_end,
            "reported_date": _to_datetime64(pd.Series([r.get("reportedDate") for r in rows], dtype=object)),
            # Anything but the two known values (absent in 2021-era data) is "unknown" -> None.
            "report_time": pd.Series([t if t in REPORT_TIMES else None for t in times], dtype=object),
            "reported_eps": _to_float(pd.Series([r.get("reportedEPS") for r in rows], dtype=object)),
        }
    )
    frame = frame[~np.isnat(period_end)]
    frame, log = _dedupe_periods(frame, "EARNINGS", ticker)
    return frame.drop(columns="period_end_date"), log


def parse_earnings(payload: dict) -> pd.DataFrame:
    """Quarterly EARNINGS rows, oldest first: when each quarter's numbers became public.

    Columns: fiscal_date_ending (normalized month end), reported_date (datetime64[ns], NaT if AV gave
    none), report_time ("pre-market" / "post-market" / None = unknown), reported_eps (float64).
    """
    frame, _ = _parse_earnings_with_log(payload, ticker="")
    return frame


# ---------------------------------------------------------------------------------------------------
# Stage 1: quarterly financials
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
    statements, log = _parse_statements_with_log(raw.income_statement, raw.balance_sheet, raw.cash_flow, ticker)
    earnings, earnings_log = _parse_earnings_with_log(raw.earnings, ticker)
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
                "original_value": _fmt_date(ped),
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


# ---------------------------------------------------------------------------------------------------
# Stages 2-4: the daily per-share artifact
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
    visible = _to_datetime64(q["visible_from"])
    fiscal = _to_datetime64(q["fiscal_date_ending"])
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

    day_all = _to_datetime64(prices["date"])
    in_range = (day_all >= start_ts.to_datetime64()) & (day_all <= end_ts.to_datetime64())
    order = np.argsort(day_all[in_range], kind="stable")
    days = day_all[in_range][order]
    n = len(days)
    bars = {c: _to_float(prices[c])[in_range][order] for c in ("open", "high", "low", "close", "volume")}

    shown = _shown_quarters(quarterly, ticker, end_ts)
    # Index of the quarter shown on each day (-1 = none visible yet): an as-of join done by bisection.
    pos = np.searchsorted(shown["_visible"].to_numpy(dtype="datetime64[ns]"), days, side="right") - 1

    nat = np.datetime64("NaT", "ns")
    date_cols = {
        name: _gather(_to_datetime64(shown[name]), pos, nat)
        for name in ("fiscal_date_ending", "period_end_date", "reported_date")
    }
    visible_from = _gather(shown["_visible"].to_numpy(dtype="datetime64[ns]"), pos, nat)
    report_time = _gather(
        np.array([t if isinstance(t, str) else None for t in shown["report_time"]], dtype=object), pos, None
    )
    shares_reported = _gather(_to_float(shown[SHARES_FIELD]), pos, np.nan)

    # Split factor between the quarter's period end and the row's date: cumulative products of the
    # split factors, looked up at both dates (splits effective on a date apply to that date's close).
    eff = _to_datetime64(splits["effective_date"]) if len(splits) else np.zeros(0, dtype="datetime64[ns]")
    factors = _to_float(splits["split_factor"]) if len(splits) else np.zeros(0)
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
        np.column_stack([_to_float(shown[m]) for m in (*FLOW_METRICS, *STOCK_METRICS, *TTM_COLUMNS)])
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


# ---------------------------------------------------------------------------------------------------
# Arrow tables
# ---------------------------------------------------------------------------------------------------


def to_artifact_table(daily: pd.DataFrame) -> pa.Table:
    """The daily frame as an Arrow table with exactly :data:`ARTIFACT_SCHEMA` (metadata included), so
    every ticker's table can be streamed into one ParquetWriter."""
    table = pa.Table.from_pandas(daily[list(ARTIFACT_COLUMNS)], schema=ARTIFACT_SCHEMA, preserve_index=False)
    return table.replace_schema_metadata(ARTIFACT_SCHEMA.metadata)


def to_quarterly_table(quarterly: pd.DataFrame) -> pa.Table:
    """The quarterly frame (one or many tickers) as an Arrow table with exactly :data:`QUARTERLY_SCHEMA`."""
    table = pa.Table.from_pandas(quarterly[list(QUARTERLY_COLUMNS)], schema=QUARTERLY_SCHEMA, preserve_index=False)
    return table.replace_schema_metadata(QUARTERLY_SCHEMA.metadata)
