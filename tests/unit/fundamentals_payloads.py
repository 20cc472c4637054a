"""Alpha Vantage-shaped payloads and build shortcuts shared by the fundamentals unit tests."""

from __future__ import annotations

from datetime import date

import pandas as pd

from ops_assets.fundamentals.daily import build_daily_per_share
from ops_assets.fundamentals.parsing import (
    _CASH_FLOW_AV_FIELDS,
    BALANCE_FIELDS,
    INCOME_FIELDS,
    RawTickerData,
    parse_daily_prices,
    parse_splits,
)
from ops_assets.fundamentals.quarterly import build_quarterly_financials

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
