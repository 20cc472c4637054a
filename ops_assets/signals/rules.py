"""The "Sentiment + Price vs SMA20" rule: classified news sentiment plus 5-minute bars -> BUY / SELL / nothing.

How one ticker is evaluated at time ``now`` (:func:`evaluate_ticker`)
--------------------------------------------------------------------
1. **Cooldown.** If the ticker got a recommendation less than ``cooldown`` ago (BUY or SELL alike), nothing.
   Exactly ``cooldown`` after the last one a new recommendation is allowed again.
2. **Sentiment.** Articles whose timestamp is in ``(now - sentiment_window, now]`` count; later ones are ignored
   (no look-ahead), and one exactly ``sentiment_window`` old has just left the window. Each ``event_uid`` votes
   once (a re-classified article keeps its newest score). Fewer than ``min_articles`` -> nothing.
3. **Price.** Only bars with ``ts <= now`` are used (no look-ahead). The last close is compared with the simple
   moving average of the last ``sma_bars`` closes (that average includes the last close). Fewer than
   ``sma_bars`` bars -> nothing.
4. **Decision.** mean sentiment ``>= buy_threshold`` and close strictly above the SMA -> BUY;
   mean ``<= sell_threshold`` and close strictly below the SMA -> SELL; anything else -> nothing. The thresholds
   are inclusive (a mean of exactly +0.30 buys); close == SMA is "no trend" and never trades.

All datetimes must be timezone-aware (naive ones raise ``ValueError``): a naive timestamp from a local clock
would silently shift the window by hours. Reasons and fingerprints render times in UTC.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ops_assets.timekeeping import format_duration, iso_z, require_aware

BUY: Literal["BUY"] = "BUY"
SELL: Literal["SELL"] = "SELL"
Action = Literal["BUY", "SELL"]
_NOISE_DIGITS = 9


@dataclass(frozen=True)
class SignalConfig:
    """Tunable parameters of the rule; the defaults are the production settings.

    ``sentiment_window``: how far back articles count. ``min_articles``: fewer articles than this are noise.
    ``buy_threshold`` / ``sell_threshold``: inclusive bounds on the mean FinBERT score (-1..+1).
    ``sma_bars``: length of the moving average in bars (20 five-minute bars = 100 minutes).
    ``cooldown``: minimum time between two recommendations for the same ticker.
    """

    sentiment_window: timedelta = timedelta(hours=4)
    min_articles: int = 3
    buy_threshold: float = 0.3
    sell_threshold: float = -0.3
    sma_bars: int = 20
    cooldown: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        # Fail at construction, not at 3 a.m. in the middle of a run, when a config value makes no sense.
        if self.sentiment_window <= timedelta(0):
            raise ValueError(f"sentiment_window must be positive, got {self.sentiment_window}")
        if self.min_articles < 1:
            raise ValueError(f"min_articles must be at least 1, got {self.min_articles}")
        if not (math.isfinite(self.buy_threshold) and math.isfinite(self.sell_threshold)):
            raise ValueError("buy_threshold and sell_threshold must be finite")
        if self.sell_threshold >= self.buy_threshold:
            raise ValueError(
                f"sell_threshold ({self.sell_threshold}) must be below buy_threshold ({self.buy_threshold})"
            )
        if self.sma_bars < 1:
            raise ValueError(f"sma_bars must be at least 1, got {self.sma_bars}")
        if self.cooldown < timedelta(0):
            raise ValueError(f"cooldown must not be negative, got {self.cooldown}")


@dataclass(frozen=True)
class Recommendation:
    """One trade recommendation, as written to the recommendations table.

    ``created_at`` is the evaluation time (``now``), not the wall clock, so a re-run of the same evaluation
    produces the same row. ``sentiment_score`` is the mean score of the ``article_count`` articles; ``price`` is
    the last close at or before ``now`` and ``sma20`` the moving average it was compared with (over
    ``SignalConfig.sma_bars`` bars, 20 by default). ``input_fingerprint`` (sha256 hex) identifies the inputs:
    insert with ``ON CONFLICT (input_fingerprint) DO NOTHING`` and retries cannot double-recommend.
    """

    ticker: str
    action: Action
    created_at: datetime
    reason: str
    sentiment_score: float
    article_count: int
    price: float
    sma20: float
    input_fingerprint: str


def sma(closes: Sequence[float], bars: int) -> float | None:
    """Simple moving average of the last ``bars`` closes, or ``None`` when there are fewer than ``bars``.

    ``closes`` must be in time order (oldest first). ``sma([1, 2, 3, 4], 3) == 3.0``.
    """
    if bars < 1:
        raise ValueError(f"bars must be at least 1, got {bars}")
    if len(closes) < bars:
        return None
    # fsum: a plain sum drifts in the last digits, which could flip "close > SMA" when the two are nearly equal.
    return math.fsum(closes[-bars:]) / bars


def evaluate_ticker(
    ticker: str,
    *,
    now: datetime,
    sentiments: Sequence[tuple[str, datetime, float]],
    bars: Sequence[tuple[datetime, float]],
    last_recommendation_at: datetime | None,
    config: SignalConfig,
) -> Recommendation | None:
    """Apply the rule (see the module docstring) to one ticker at ``now``; ``None`` means "no recommendation".

    ``sentiments``: ``(event_uid, published_or_classified_at, score)`` rows for this ticker, any order; rows
    outside the window are ignored, so the caller may over-fetch. ``bars``: ``(ts, close)`` 5-minute bars, any
    order; bars after ``now`` are ignored. ``last_recommendation_at``: ``created_at`` of the ticker's latest
    recommendation (any action), or ``None``.
    """
    require_aware(now, "now")
    if last_recommendation_at is not None:
        require_aware(last_recommendation_at, "last_recommendation_at")
        # A last recommendation "in the future" (a replay of an earlier evaluation time) also blocks: the
        # difference is negative, hence below the cooldown. Better silent than a duplicate trade.
        if now - last_recommendation_at < config.cooldown:
            return None

    window_start = now - config.sentiment_window
    latest_by_uid: dict[str, tuple[datetime, float]] = {}
    for event_uid, at, score in sentiments:
        require_aware(at, f"timestamp of event {event_uid}")
        if not math.isfinite(score):
            raise ValueError(f"sentiment score of event {event_uid} is not finite: {score!r}")
        if not (window_start < at <= now):
            continue
        # One vote per article: a story classified twice (model upgrade, retry) must not count double.
        previous = latest_by_uid.get(event_uid)
        if previous is None or at >= previous[0]:
            latest_by_uid[event_uid] = (at, score)
    article_count = len(latest_by_uid)
    if article_count < config.min_articles:
        return None
    # Rounded to 9 decimals (far below the model's precision) so float noise cannot move a mean that is
    # exactly +0.30 on paper to 0.29999999999999993 and lose the inclusive threshold.
    mean_score = round(math.fsum(score for _, score in latest_by_uid.values()) / article_count, _NOISE_DIGITS)

    past_bars: list[tuple[datetime, float]] = []
    for ts, close in bars:
        require_aware(ts, "bar ts")
        if ts <= now:
            if not math.isfinite(close):
                raise ValueError(f"close of bar {iso_z(ts)} is not finite: {close!r}")
            past_bars.append((ts, close))
    past_bars.sort(key=lambda bar: bar[0])
    average = sma([close for _, close in past_bars], config.sma_bars)
    if average is None:
        return None
    # Same for the average: a flat series must compare equal to its own close, never "above" by one ulp.
    average = round(average, _NOISE_DIGITS)
    last_bar_ts, price = past_bars[-1]

    if mean_score >= config.buy_threshold and price > average:
        action: Action = BUY
        relation = "above"
    elif mean_score <= config.sell_threshold and price < average:
        action = SELL
        relation = "below"
    else:
        return None

    reason = (
        f"mean sentiment {mean_score:+.2f} over {article_count} articles in {format_duration(config.sentiment_window)};"
        f" close {_fmt_number(price)} {relation} SMA{config.sma_bars} {_fmt_number(average)}"
    )
    return Recommendation(
        ticker=ticker,
        action=action,
        created_at=now,
        reason=reason,
        sentiment_score=mean_score,
        article_count=article_count,
        price=price,
        sma20=average,
        input_fingerprint=input_fingerprint(
            ticker,
            action,
            window_start=window_start,
            window_end=now,
            event_uids=latest_by_uid.keys(),
            last_bar_ts=last_bar_ts,
        ),
    )


def input_fingerprint(
    ticker: str,
    action: str,
    *,
    window_start: datetime,
    window_end: datetime,
    event_uids: Iterable[str],
    last_bar_ts: datetime,
) -> str:
    """sha256 hex of the inputs that produced a recommendation; the same inputs always give the same value.

    Covers ticker, action, the window bounds (as UTC instants, so ``+02:00`` and ``Z`` spellings of the same
    moment agree), the sorted event_uids (input order does not matter) and the last bar's ts.
    """
    payload = {
        "ticker": ticker,
        "action": action,
        "window_start": iso_z(window_start),
        "window_end": iso_z(window_end),
        "event_uids": sorted(event_uids),
        "last_bar_ts": iso_z(last_bar_ts),
    }
    # JSON with sorted keys is an unambiguous encoding: no separator in a uid can make two inputs collide.
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _fmt_number(value: float) -> str:
    """``101.2`` rather than ``101.20000000000002``: four decimals at most, trailing zeros dropped."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
