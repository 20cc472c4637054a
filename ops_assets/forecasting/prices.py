"""Keeping one ticker's daily price history: merge a provider's answer into what is stored. Plain, no Dagster.

What is stored is always **split-adjusted for every split known so far** (one row per session: ``day``, ``open``,
``high``, ``low``, ``close``, ``volume``), plus the splits themselves. Providers differ: some answer as traded
(Alpha Vantage, the sample), with the split as an event and the price dropping on its day; Yahoo answers
already adjusted for every split up to now, so a split rewrites history. :func:`merge_history` makes both the
same:

1. the answer's bars are adjusted for every split known, stored or listed in the answer (as-traded sources only);
2. a split not yet recorded rescales the stored rows before its day (prices / ratio, volume x ratio), as the
   provider's own adjusted series does;
3. then the overlap of stored and answered days is compared. Equal: nothing to say. Different by one constant
   factor: a split the answer does not list (it happened before the fetched range): reported as such (the run's
   ``history_changed`` metadata and a warning), the answer's days win, and the boundary jump it leaves is named
   by the ``jumps_explained`` check as a likely split (a backfill from the first stored day repairs it).
   Different otherwise: a **restatement**, reported day by day; the answer's values win (it is the provider's
   current truth) and the caller archives the superseded version. Nothing changes silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

import numpy as np
import pandas as pd

PRICE_COLUMNS = ["day", "open", "high", "low", "close", "volume"]
PRICE_FIELDS = ["open", "high", "low", "close"]
RELATIVE_TOLERANCE = 1e-6
"""Stored and answered values closer than this (relative) are the same value (float round trips)."""
SPLIT_RATIO_TOLERANCE = 0.005
_FORWARD = [Fraction(n) for n in range(2, 21)] + [Fraction(3, 2), Fraction(5, 2), Fraction(4, 3), Fraction(5, 4)]
SPLIT_RATIOS = tuple(_FORWARD + [1 / r for r in _FORWARD] + [Fraction(1, n) for n in (25, 30, 40, 50)])
"""Ratios companies split by (n:1 up to 20:1, 3:2, 5:2, 4:3, 5:4) and reverse splits (down to 1:50): a constant
factor within 0.5 % of one of them reads as a split."""


@dataclass(frozen=True)
class Split:
    day: date
    ratio: float
    """New shares per old share: 4.0 for a 4:1 split, 0.1 for a 1:10 reverse split."""


@dataclass
class MergeReport:
    """What one merge did, in words and numbers for the run's metadata."""

    added_days: int = 0
    unchanged_days: int = 0
    new_splits: list[Split] = field(default_factory=list)
    inferred_split_factor: float | None = None
    """A constant factor between stored and answered overlap days that no listed split explains."""
    restated_days: list[date] = field(default_factory=list)

    @property
    def changed_history(self) -> bool:
        return bool(self.new_splits or self.inferred_split_factor or self.restated_days)

    def describe(self) -> str:
        parts = [f"{self.added_days} new days, {self.unchanged_days} unchanged"]
        parts += [f"split {_ratio_text(s.ratio)} on {s.day} applied to earlier history" for s in self.new_splits]
        if self.inferred_split_factor:
            parts.append(
                f"the provider's history changed by a constant factor {self.inferred_split_factor:.4g} "
                "(a split before the fetched range?): backfill from the first stored day to re-read it"
            )
        if self.restated_days:
            shown = ", ".join(str(d) for d in self.restated_days[:5])
            more = f" and {len(self.restated_days) - 5} more" if len(self.restated_days) > 5 else ""
            parts.append(f"provider restated {len(self.restated_days)} stored days ({shown}{more})")
        return "; ".join(parts)


def empty_prices() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object" if c == "day" else "float64") for c in PRICE_COLUMNS})


def bars_frame(bars: Iterable[object]) -> pd.DataFrame:
    """Rows of objects with ``day`` and the OHLCV attributes, as the stored frame (sorted, one row per day)."""
    rows = [{c: getattr(bar, c) for c in PRICE_COLUMNS} for bar in bars]
    if not rows:
        return empty_prices()
    frame = pd.DataFrame(rows, columns=PRICE_COLUMNS)
    frame[PRICE_COLUMNS[1:]] = frame[PRICE_COLUMNS[1:]].astype("float64")
    return frame.drop_duplicates("day", keep="last").sort_values("day").reset_index(drop=True)


def adjust_for_split(prices: pd.DataFrame, split: Split) -> pd.DataFrame:
    """Rows before the split day in post-split terms: prices / ratio, volume x ratio."""
    out = prices.copy()
    before = out["day"] < split.day
    out.loc[before, PRICE_FIELDS] = out.loc[before, PRICE_FIELDS] / split.ratio
    out.loc[before, "volume"] = out.loc[before, "volume"] * split.ratio
    return out


def merge_history(
    stored: pd.DataFrame,
    stored_splits: Sequence[Split],
    answer: pd.DataFrame,
    answer_splits: Sequence[Split],
    *,
    answer_is_adjusted: bool,
) -> tuple[pd.DataFrame, list[Split], MergeReport]:
    """The new stored history and splits after taking in a provider's answer, and what changed (module doc)."""
    report = MergeReport()
    known = {s.day for s in stored_splits}
    new_splits = [s for s in sorted(answer_splits, key=lambda s: s.day) if s.day not in known]
    if not answer_is_adjusted:
        # As traded: every split known (stored or in this answer) after a day changes that day's terms.
        for split in [*stored_splits, *new_splits]:
            answer = adjust_for_split(answer, split)
    for split in new_splits:
        # Stored rows before the split day predate it: bring them into post-split terms (the answer's days are).
        stored = adjust_for_split(stored, split)
    report.new_splits = new_splits

    overlap = stored.merge(answer, on="day", suffixes=("_stored", "_answer"))
    if len(overlap):
        stored_values = overlap[[f"{c}_stored" for c in PRICE_FIELDS]].to_numpy(dtype=float)
        answer_values = overlap[[f"{c}_answer" for c in PRICE_FIELDS]].to_numpy(dtype=float)
        same = np.isclose(stored_values, answer_values, rtol=RELATIVE_TOLERANCE, atol=0.0).all(axis=1)
        same &= np.isclose(overlap["volume_stored"], overlap["volume_answer"], rtol=RELATIVE_TOLERANCE)
        report.unchanged_days = int(same.sum())
        changed = ~same
        if changed.any():
            factor = _constant_split_factor(stored_values[changed], answer_values[changed])
            if factor is not None and changed.all():
                report.inferred_split_factor = factor
            else:
                report.restated_days = sorted(overlap.loc[changed, "day"].tolist())
    report.added_days = int((~answer["day"].isin(stored["day"])).sum())
    merged = pd.concat([stored[~stored["day"].isin(answer["day"])], answer], ignore_index=True)
    merged = merged.sort_values("day").reset_index(drop=True)[PRICE_COLUMNS]
    splits = sorted([*stored_splits, *new_splits], key=lambda s: s.day)
    return merged, splits, report


def likely_split_ratio(factor: float) -> Fraction | None:
    """``factor`` as a split ratio when it is within 0.5 % of one companies use, else ``None``."""
    if not np.isfinite(factor) or factor <= 0:
        return None
    best = min(SPLIT_RATIOS, key=lambda ratio: abs(float(ratio) / factor - 1))
    return best if abs(float(best) / factor - 1) <= SPLIT_RATIO_TOLERANCE else None


def _constant_split_factor(stored: np.ndarray, answer: np.ndarray) -> float | None:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = (stored / answer).ravel()
    if not np.isfinite(ratios).all() or len(ratios) == 0:
        return None
    median = float(np.median(ratios))
    if np.allclose(ratios, median, rtol=SPLIT_RATIO_TOLERANCE) and likely_split_ratio(median) is not None:
        return median
    return None


def _ratio_text(ratio: float) -> str:
    fraction = likely_split_ratio(ratio) or Fraction(ratio).limit_denominator(100)
    return f"{fraction.numerator}:{fraction.denominator}"
