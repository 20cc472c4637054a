"""Contract checks on a built TTM per-share artifact (plain functions over the parquet file).

Each check reads only the columns it needs, so they stay cheap on an IWB-size artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from ops_assets.fundamentals.daily import ARTIFACT_SCHEMA

# Largest market cap we believe (USD millions): ~5x the largest company in 2025.
MAX_MARKET_CAP_MILLIONS = 25_000_000
MIN_TTM_COVERAGE = 0.5


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def check_schema(path: Path) -> CheckOutcome:
    """Columns, their order and their types are exactly the published contract."""
    actual = pq.read_schema(path)
    expected = {f.name: f.type for f in ARTIFACT_SCHEMA}
    found = {f.name: f.type for f in actual}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(name for name in set(expected) & set(found) if expected[name] != found[name])
    passed = not (missing or extra or wrong) and actual.names == ARTIFACT_SCHEMA.names
    description = "schema matches the contract" if passed else "schema differs from the contract"
    return CheckOutcome(
        passed,
        description,
        {
            "columns": len(found),
            "missing": ", ".join(missing),
            "extra": ", ".join(extra),
            "wrong_type": ", ".join(wrong),
        },
    )


def check_unique_ticker_date(path: Path) -> CheckOutcome:
    """At most one row per (ticker, date)."""
    frame = pq.read_table(path, columns=["ticker", "date"]).to_pandas()
    duplicates = int(frame.duplicated().sum())
    return CheckOutcome(duplicates == 0, f"{duplicates} duplicate (ticker, date) rows", {"duplicates": duplicates})


def check_no_lookahead(path: Path) -> CheckOutcome:
    """No row shows a quarter before it was public.

    A quarter is visible from its ``visible_from`` day, which is on/after ``reported_date`` (strictly after
    for post-market and unknown report times).
    """
    frame = pq.read_table(path, columns=["date", "reported_date", "report_time", "visible_from"]).to_pandas()
    shown = frame[frame["visible_from"].notna()]
    before_visible = shown["date"] < shown["visible_from"]
    before_report = shown["visible_from"] < shown["reported_date"]
    same_day_after_close = (shown["report_time"] != "pre-market") & (shown["visible_from"] <= shown["reported_date"])
    violations = int((before_visible | before_report | same_day_after_close).sum())
    return CheckOutcome(
        violations == 0, f"{violations} rows show a quarter before it was reported", {"violations": violations}
    )


def check_ttm_coverage(path: Path, minimum: float = MIN_TTM_COVERAGE) -> CheckOutcome:
    """Per ticker, the share of rows with a reported quarter whose revenue TTM is present."""
    frame = pq.read_table(path, columns=["ticker", "visible_from", "totalRevenue_ttm_per_share"]).to_pandas()
    shown = frame[frame["visible_from"].notna()]
    coverage = shown["totalRevenue_ttm_per_share"].notna().groupby(shown["ticker"]).mean()
    low = coverage[coverage < minimum].round(3)
    return CheckOutcome(
        low.empty,
        f"{len(low)} of {len(coverage)} tickers have TTM on fewer than {minimum:.0%} of their rows",
        {
            "median_coverage": float(coverage.median()) if len(coverage) else 0.0,
            "low_coverage_tickers": ", ".join(f"{t} ({v:.0%})" for t, v in low.items()),
        },
    )


def check_plausible_values(path: Path) -> CheckOutcome:
    """Prices and share counts positive, split factors positive, market caps below an absurd bound."""
    frame = pq.read_table(
        path,
        columns=["ticker", "close", "shares_outstanding_adjusted", "split_factor_since_report", "market_cap_millions"],
    ).to_pandas()
    problems = {
        "non_positive_close": int((frame["close"] <= 0).sum()),
        "non_positive_shares": int((frame["shares_outstanding_adjusted"] <= 0).sum()),
        "non_positive_split_factor": int((frame["split_factor_since_report"] <= 0).sum()),
        "market_cap_above_bound": int((frame["market_cap_millions"] > MAX_MARKET_CAP_MILLIONS).sum()),
        "infinite_values": int(np.isinf(frame.select_dtypes("number").to_numpy()).sum()),
    }
    bad = {name: count for name, count in problems.items() if count}
    description = (
        "all values within bounds"
        if not bad
        else "out-of-bound values: " + ", ".join(f"{name}={count}" for name, count in bad.items())
    )
    return CheckOutcome(not bad, description, problems)
