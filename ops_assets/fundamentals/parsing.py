"""Parsing of raw Alpha Vantage (AV) fundamentals payloads into pandas frames.

Stages 1-2 of ``docs/fundamentals.md`` (parse, normalize fiscal dates), part of the port of the original
R pipeline's maths with its known bugs fixed on purpose: the three quarterly statements, EARNINGS (when
each quarter became public), daily as-traded prices and stock splits of one ticker. Pure: no Dagster,
no I/O. AV error / throttle bodies (they arrive with HTTP 200) and missing keys raise ValueError.
Numbers that were never reported stay missing (NaN): nothing is filled with 0.

Also holds what :mod:`ops_assets.fundamentals.quarterly` and :mod:`ops_assets.fundamentals.daily` share:
the statement field lists and the date / number coercion helpers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

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

REPORT_TIMES = ("pre-market", "post-market")


# ---------------------------------------------------------------------------------------------------
# Raw payloads
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


def to_datetime64(values: object) -> np.ndarray:
    """Any date-like column (datetime64, datetime.date objects, pyarrow dates, strings) -> datetime64[ns]."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if not isinstance(series.dtype, np.dtype) or series.dtype.kind != "M":
        series = pd.to_datetime(series, errors="coerce")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    return series.to_numpy(dtype="datetime64[ns]")


def to_float(values: pd.Series) -> np.ndarray:
    """Numeric column (float, nullable, pyarrow or object with None) -> float64 with NaN for missing."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def normalize_fiscal_dates(values: object) -> np.ndarray:
    """The calendar month end a fiscal period belongs to (datetime64[ns]).

    Day 1-15 -> the previous month's last day (a 52/53-week year ending 2021-08-01 is the July quarter);
    day 16-31 -> that month's last day. Statements and EARNINGS are joined on this normalized date.
    """
    dt = to_datetime64(values)
    missing = np.isnat(dt)
    months = dt.astype("datetime64[M]")
    day = (dt.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64) + 1
    months = np.where(day <= 15, months - np.timedelta64(1, "M"), months)
    out = ((months + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")).astype("datetime64[ns]")
    out[missing] = np.datetime64("NaT")
    return out


def format_log_date(value: object) -> str | None:
    """A date as the cleaning log writes it (ISO text); None when missing."""
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


# ---------------------------------------------------------------------------------------------------
# Statements, earnings, prices and splits
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
            "original_value": format_log_date(ped),  # the report that was dropped
            "new_value": format_log_date(kept_date[fde]),  # the report that was kept
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
    period_end = to_datetime64(raw.get("fiscalDateEnding", pd.Series(dtype=object)))
    columns: dict[str, object] = {
        "fiscal_date_ending": normalize_fiscal_dates(period_end),
        "period_end_date": period_end,
    }
    for field in av_fields:
        # "None" (and anything else that is not a number) -> NaN; a field AV never sent -> NaN, not 0.
        columns[renames.get(field, field)] = to_float(raw[field]) if field in raw.columns else np.full(len(raw), np.nan)
    frame = pd.DataFrame(columns)
    frame = frame[~np.isnat(period_end)]
    return _dedupe_periods(frame, what, ticker)


def parse_statements_with_log(
    income: dict, balance: dict, cash_flow: dict, ticker: str
) -> tuple[pd.DataFrame, list[dict]]:
    """:func:`parse_quarterly_statements`, plus cleaning-log rows (``duplicate_period``) for ``ticker``."""
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
    frame, _ = parse_statements_with_log(income, balance, cash_flow, ticker="")
    return frame


def parse_earnings_with_log(payload: dict, ticker: str) -> tuple[pd.DataFrame, list[dict]]:
    """:func:`parse_earnings`, plus cleaning-log rows (``duplicate_period``) for ``ticker``."""
    rows = _check_payload(payload, "EARNINGS", "quarterlyEarnings")["quarterlyEarnings"] or []
    period_end = to_datetime64(pd.Series([r.get("fiscalDateEnding") for r in rows], dtype=object))
    times = [r.get("reportTime") for r in rows]
    frame = pd.DataFrame(
        {
            "fiscal_date_ending": normalize_fiscal_dates(period_end),
            "period_end_date": period_end,
            "reported_date": to_datetime64(pd.Series([r.get("reportedDate") for r in rows], dtype=object)),
            # Anything but the two known values (absent in 2021-era data) is "unknown" -> None.
            "report_time": pd.Series([t if t in REPORT_TIMES else None for t in times], dtype=object),
            "reported_eps": to_float(pd.Series([r.get("reportedEPS") for r in rows], dtype=object)),
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
    frame, _ = parse_earnings_with_log(payload, ticker="")
    return frame
