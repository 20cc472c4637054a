"""Signal rule ("Sentiment + Price vs SMA20") and the dispatcher's risk gates, with hand-computed values.

Standard scene: ``NOW`` = 2026-01-05 15:00Z; 20 five-minute bars ending at ``NOW``; three articles in the
last four hours. 19 closes of 100 and a last close of 110 give SMA20 = (19 x 100 + 110) / 20 = 100.5.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ops_assets.signals import (
    BUY,
    EXECUTE,
    HALTED,
    REJECTED,
    SELL,
    GateDecision,
    Recommendation,
    RiskLimits,
    SignalConfig,
    check_gates,
    count_consecutive_failures,
    evaluate_ticker,
    order_quantity,
    sma,
)

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
CONFIG = SignalConfig()
LIMITS = RiskLimits()
BAR = timedelta(minutes=5)


def make_bars(closes: list[float], *, last_ts: datetime = NOW) -> list[tuple[datetime, float]]:
    """Five-minute bars, oldest first, the last one at ``last_ts``."""
    return [(last_ts - BAR * (len(closes) - 1 - i), close) for i, close in enumerate(closes)]


UP_BARS = make_bars([100.0] * 19 + [110.0])  # close 110 > SMA20 100.5
DOWN_BARS = make_bars([100.0] * 19 + [90.0])  # close 90 < SMA20 99.5
FLAT_BARS = make_bars([101.2] * 20)  # close == SMA20


def articles(*scores: float, start: datetime = NOW) -> list[tuple[str, datetime, float]]:
    """One article per score, 10 minutes apart going back from ``start``."""
    return [(f"uid-{i}", start - timedelta(minutes=10 * i), score) for i, score in enumerate(scores)]


def evaluate(**overrides: object) -> Recommendation | None:
    kwargs: dict[str, object] = {
        "now": NOW,
        "sentiments": articles(0.5, 0.4, 0.3),
        "bars": UP_BARS,
        "last_recommendation_at": None,
        "config": CONFIG,
    }
    kwargs.update(overrides)
    return evaluate_ticker("ACME", **kwargs)  # type: ignore[arg-type]


def gates(**overrides: object) -> GateDecision:
    kwargs: dict[str, object] = {
        "now": NOW,
        "trades_today": 0,
        "notional": 9_917.6,
        "consecutive_failures": 0,
        "kill_switch_reset_at": None,
        "latest_bar_ts": NOW - timedelta(minutes=5),
        "limits": LIMITS,
    }
    kwargs.update(overrides)
    return check_gates(**kwargs)  # type: ignore[arg-type]


# --- sma --------------------------------------------------------------------------------------------------


def test_sma_uses_the_last_bars_closes() -> None:
    assert sma([1.0, 2.0, 3.0, 4.0], 3) == 3.0  # (2 + 3 + 4) / 3
    assert sma([1.0, 2.0, 3.0, 4.0], 4) == 2.5
    assert sma([100.0] * 19 + [110.0], 20) == 100.5


def test_sma_is_none_with_too_few_closes() -> None:
    assert sma([1.0, 2.0], 3) is None
    assert sma([], 1) is None


def test_sma_rejects_nonpositive_length() -> None:
    with pytest.raises(ValueError, match="bars"):
        sma([1.0], 0)


# --- the rule -----------------------------------------------------------------------------------------------


def test_buy_with_hand_computed_fields() -> None:
    rec = evaluate(sentiments=articles(0.5, 0.4, 0.3, 0.6, 0.3))
    assert rec is not None
    assert rec.action == BUY
    assert rec.ticker == "ACME"
    assert rec.created_at == NOW
    assert rec.sentiment_score == pytest.approx(0.42)  # (0.5 + 0.4 + 0.3 + 0.6 + 0.3) / 5
    assert rec.article_count == 5
    assert rec.price == 110.0
    assert rec.sma20 == 100.5
    assert rec.reason == "mean sentiment +0.42 over 5 articles in 4 h; close 110 above SMA20 100.5"


def test_sell_with_hand_computed_fields() -> None:
    rec = evaluate(sentiments=articles(-0.5, -0.4, -0.6), bars=DOWN_BARS)
    assert rec is not None
    assert rec.action == SELL
    assert rec.sentiment_score == pytest.approx(-0.5)
    assert rec.article_count == 3
    assert rec.price == 90.0
    assert rec.sma20 == 99.5
    assert rec.reason == "mean sentiment -0.50 over 3 articles in 4 h; close 90 below SMA20 99.5"


def test_reason_shows_decimals_without_float_noise() -> None:
    bars = make_bars([99.8] * 19 + [101.2])  # SMA = (19 x 99.8 + 101.2) / 20 = 99.87
    rec = evaluate(bars=bars)
    assert rec is not None
    assert rec.sma20 == pytest.approx(99.87)
    assert rec.reason.endswith("close 101.2 above SMA20 99.87")


@pytest.mark.parametrize(
    ("scores", "bars"),
    [
        ((0.5, 0.4, 0.3), DOWN_BARS),  # positive news, price below trend
        ((-0.5, -0.4, -0.6), UP_BARS),  # negative news, price above trend
        ((0.29, 0.29, 0.29), UP_BARS),  # just under the buy threshold
        ((-0.29, -0.29, -0.29), DOWN_BARS),  # just above the sell threshold
        ((0.9, 0.9, 0.9), FLAT_BARS),  # close == SMA: no trend, no trade
        ((-0.9, -0.9, -0.9), FLAT_BARS),
    ],
)
def test_no_recommendation_when_sentiment_and_price_disagree(scores: tuple[float, ...], bars: list) -> None:
    assert evaluate(sentiments=articles(*scores), bars=bars) is None


def test_thresholds_are_inclusive() -> None:
    buy = evaluate(sentiments=articles(0.3, 0.3, 0.3))
    assert buy is not None
    assert buy.action == BUY
    assert buy.sentiment_score == 0.3
    # 0.4 + 0.2 + 0.3 sums to 0.9000000000000001 in naive float arithmetic; still exactly the threshold.
    assert evaluate(sentiments=articles(0.4, 0.2, 0.3)) is not None
    sell = evaluate(sentiments=articles(-0.3, -0.3, -0.3), bars=DOWN_BARS)
    assert sell is not None
    assert sell.action == SELL


def test_exactly_min_articles_is_enough_one_fewer_is_not() -> None:
    assert evaluate(sentiments=articles(0.5, 0.5, 0.5)) is not None
    assert evaluate(sentiments=articles(0.5, 0.5)) is None
    assert evaluate(sentiments=[]) is None


def test_window_is_open_at_the_start_closed_at_now() -> None:
    at_start = ("uid-old", NOW - timedelta(hours=4), 0.9)  # exactly 4h old: just left the window
    at_now = ("uid-now", NOW, 0.9)  # exactly now: counts
    inside = [("uid-a", NOW - timedelta(hours=3, minutes=59, seconds=59), 0.9), ("uid-b", NOW - BAR, 0.9)]
    rec = evaluate(sentiments=[at_start, at_now, *inside])
    assert rec is not None
    assert rec.article_count == 3
    assert evaluate(sentiments=[at_start, *inside]) is None  # only 2 inside


def test_future_articles_are_ignored() -> None:
    future = [("uid-f1", NOW + timedelta(seconds=1), -1.0), ("uid-f2", NOW + timedelta(hours=1), -1.0)]
    rec = evaluate(sentiments=articles(0.3, 0.3, 0.3) + future)
    assert rec is not None
    assert rec.article_count == 3
    assert rec.sentiment_score == 0.3
    # Future articles alone do not reach min_articles.
    assert evaluate(sentiments=[*future, ("uid-f3", NOW + BAR, 1.0)]) is None


def test_future_bars_are_ignored() -> None:
    # A crash after NOW would flip the signal if it leaked in; it must not.
    future = [(NOW + BAR, 50.0), (NOW + 2 * BAR, 50.0)]
    rec = evaluate(bars=UP_BARS + future)
    assert rec is not None
    assert rec.price == 110.0
    assert rec.sma20 == 100.5
    assert rec.input_fingerprint == evaluate().input_fingerprint  # type: ignore[union-attr]


def test_sma_uses_only_the_last_20_bars_up_to_now() -> None:
    # 5 older bars at 1000 must not enter the average: SMA stays 100.5.
    bars = make_bars([1000.0] * 5 + [100.0] * 19 + [110.0])
    rec = evaluate(bars=bars)
    assert rec is not None
    assert rec.sma20 == 100.5


def test_bars_in_any_order() -> None:
    rec = evaluate(bars=list(reversed(UP_BARS)))
    assert rec is not None
    assert rec.price == 110.0
    assert rec.sma20 == 100.5


def test_too_few_or_no_bars() -> None:
    assert evaluate(bars=UP_BARS[1:]) is None  # 19 bars
    assert evaluate(bars=[]) is None
    # 20 bars in total, but one is after NOW: only 19 usable.
    assert evaluate(bars=make_bars([100.0] * 19 + [110.0], last_ts=NOW + BAR)) is None


def test_duplicate_event_uid_counts_once_with_its_newest_score() -> None:
    sentiments = [
        ("uid-1", NOW - timedelta(hours=2), -0.9),  # first classification
        ("uid-1", NOW - timedelta(hours=1), 0.6),  # re-classified later: this one counts
        ("uid-2", NOW - BAR, 0.3),
        ("uid-3", NOW - BAR, 0.3),
    ]
    rec = evaluate(sentiments=sentiments)
    assert rec is not None
    assert rec.article_count == 3
    assert rec.sentiment_score == pytest.approx(0.4)  # (0.6 + 0.3 + 0.3) / 3
    assert evaluate(sentiments=sentiments[:3]) is None  # uid-1 twice + uid-2: only 2 articles


def test_cooldown_boundary() -> None:
    just_inside = NOW - timedelta(minutes=59, seconds=59)
    assert evaluate(last_recommendation_at=just_inside) is None
    assert evaluate(last_recommendation_at=NOW - timedelta(hours=1)) is not None  # exactly the cooldown
    assert evaluate(last_recommendation_at=NOW - timedelta(hours=2)) is not None


def test_cooldown_applies_regardless_of_action() -> None:
    # The last recommendation (whatever it was) 30 minutes ago blocks a SELL just as it blocks a BUY.
    recent = NOW - timedelta(minutes=30)
    assert evaluate(sentiments=articles(-0.5, -0.5, -0.5), bars=DOWN_BARS, last_recommendation_at=recent) is None
    assert evaluate(last_recommendation_at=recent) is None


def test_last_recommendation_in_the_future_blocks() -> None:
    assert evaluate(last_recommendation_at=NOW + timedelta(minutes=5)) is None


def test_custom_config() -> None:
    config = SignalConfig(sentiment_window=timedelta(minutes=90), min_articles=2, sma_bars=3, buy_threshold=0.5)
    bars = make_bars([10.0, 11.0, 12.0])  # SMA3 = 11, close 12
    rec = evaluate(sentiments=articles(0.5, 0.7), bars=bars, config=config)
    assert rec is not None
    assert rec.reason == "mean sentiment +0.60 over 2 articles in 1 h 30 min; close 12 above SMA3 11"
    assert evaluate(sentiments=articles(0.4, 0.5), bars=bars, config=config) is None  # mean 0.45 < 0.5


def test_timezones_are_compared_as_instants() -> None:
    plus2 = timezone(timedelta(hours=2))
    now_plus2 = NOW.astimezone(plus2)
    rec = evaluate(now=now_plus2)
    assert rec is not None
    assert rec.input_fingerprint == evaluate().input_fingerprint  # type: ignore[union-attr]


@pytest.mark.parametrize("field", ["now", "article", "bar", "last"])
def test_naive_datetimes_are_refused(field: str) -> None:
    naive = datetime(2026, 1, 5, 15, 0)
    overrides: dict[str, object] = {
        "now": {"now": naive},
        "article": {"sentiments": [("uid-x", naive, 0.5)]},
        "bar": {"bars": [(naive, 100.0)]},
        "last": {"last_recommendation_at": naive},
    }[field]
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(**overrides)


def test_non_finite_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="not finite"):
        evaluate(sentiments=[*articles(0.5, 0.5), ("uid-nan", NOW, float("nan"))])
    with pytest.raises(ValueError, match="not finite"):
        evaluate(bars=[*UP_BARS[:-1], (NOW, float("inf"))])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sentiment_window": timedelta(0)},
        {"min_articles": 0},
        {"buy_threshold": -0.5},  # below sell_threshold -0.3
        {"sell_threshold": 0.3},  # equal to buy_threshold
        {"sma_bars": 0},
        {"cooldown": timedelta(seconds=-1)},
        {"buy_threshold": float("nan")},
    ],
)
def test_invalid_config_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must"):
        SignalConfig(**kwargs)


def test_dataclasses_are_frozen() -> None:
    rec = evaluate()
    assert rec is not None
    with pytest.raises(FrozenInstanceError):
        rec.action = SELL  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        CONFIG.min_articles = 1  # type: ignore[misc]


# --- fingerprint ----------------------------------------------------------------------------------------------


def test_fingerprint_matches_the_documented_encoding() -> None:
    rec = evaluate()
    assert rec is not None
    payload = {
        "action": "BUY",
        "event_uids": ["uid-0", "uid-1", "uid-2"],
        "last_bar_ts": "2026-01-05T15:00:00Z",
        "ticker": "ACME",
        "window_end": "2026-01-05T15:00:00Z",
        "window_start": "2026-01-05T11:00:00Z",
    }
    expected = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert rec.input_fingerprint == expected
    assert len(rec.input_fingerprint) == 64


def test_fingerprint_is_stable_for_the_same_inputs() -> None:
    first = evaluate()
    again = evaluate()
    reordered = evaluate(sentiments=list(reversed(articles(0.5, 0.4, 0.3))), bars=list(reversed(UP_BARS)))
    assert first is not None
    assert again is not None
    assert reordered is not None
    assert first.input_fingerprint == again.input_fingerprint == reordered.input_fingerprint
    assert first == again


@pytest.mark.parametrize(
    "change",
    [
        "ticker",
        "action",
        "now",
        "event_uid",
        "extra_article",
        "last_bar",
    ],
)
def test_fingerprint_changes_when_an_input_changes(change: str) -> None:
    base = evaluate()
    assert base is not None
    if change == "ticker":
        other = evaluate_ticker(
            "OTHER",
            now=NOW,
            sentiments=articles(0.5, 0.4, 0.3),
            bars=UP_BARS,
            last_recommendation_at=None,
            config=CONFIG,
        )
    elif change == "action":
        other = evaluate(sentiments=articles(-0.5, -0.4, -0.3), bars=DOWN_BARS)  # same uids, bars' last ts
    elif change == "now":
        # One minute later: same articles, same last bar, but the window bounds moved.
        other = evaluate(now=NOW + timedelta(minutes=1))
    elif change == "event_uid":
        other = evaluate(sentiments=[("uid-X", NOW, 0.5), *articles(0.5, 0.4, 0.3)[1:]])
    elif change == "extra_article":
        other = evaluate(sentiments=articles(0.5, 0.4, 0.3, 0.3))
    else:
        other = evaluate(bars=make_bars([100.0] * 19 + [110.0], last_ts=NOW - BAR))
    assert other is not None
    assert other.input_fingerprint != base.input_fingerprint


def test_fingerprint_ignores_scores_and_prices() -> None:
    # Documented scope: identity is ticker, action, window, event_uids and last bar ts, not the values.
    base = evaluate()
    rescored = evaluate(sentiments=articles(0.9, 0.8, 0.7), bars=make_bars([100.0] * 19 + [120.0]))
    assert base is not None
    assert rescored is not None
    assert rescored.input_fingerprint == base.input_fingerprint


# --- order quantity -------------------------------------------------------------------------------------------


def test_order_quantity_hand_computed() -> None:
    assert order_quantity(101.2, LIMITS) == 98  # 98 x 101.2 = 9917.6; 99 x 101.2 = 10018.8
    assert order_quantity(100.0, LIMITS) == 100  # exactly the cap
    assert order_quantity(10_000.0, LIMITS) == 1
    assert order_quantity(10_000.01, LIMITS) == 0
    assert order_quantity(0.1, RiskLimits(max_notional_per_trade=1)) == 10  # 1 / 0.1 in floats is exact here
    # Float edges, settled by the same multiplication the notional gate sees:
    # 0.3 / 0.1 = 2.9999999999999996 and 3 x 0.1 = 0.30000000000000004 > 0.3, so 2 shares.
    assert order_quantity(0.1, RiskLimits(max_notional_per_trade=0.3)) == 2
    # 4.1 / 0.01 = 409.99999999999994, but 410 x 0.01 = 4.1 <= 4.1, so 410 shares.
    assert order_quantity(0.01, RiskLimits(max_notional_per_trade=4.1)) == 410


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf")])
def test_order_quantity_refuses_bad_prices(price: float) -> None:
    with pytest.raises(ValueError, match="price"):
        order_quantity(price, LIMITS)


# --- gates ----------------------------------------------------------------------------------------------------


def test_all_gates_pass() -> None:
    assert gates() == GateDecision(True, EXECUTE, "all gates passed")


def test_kill_switch_halts_at_the_limit() -> None:
    assert gates(consecutive_failures=2).status == EXECUTE
    decision = gates(consecutive_failures=3)
    assert decision == GateDecision(False, HALTED, "kill switch: 3 consecutive failures; reset to resume (never reset)")
    reset = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert gates(consecutive_failures=4, kill_switch_reset_at=reset).reason == (
        "kill switch: 4 consecutive failures; reset to resume (last reset 2026-01-05T09:30:00Z)"
    )


def test_kill_switch_comes_before_every_other_gate() -> None:
    decision = gates(consecutive_failures=3, latest_bar_ts=None, trades_today=99, notional=0.0)
    assert decision.status == HALTED


def test_stale_data_message_and_boundary() -> None:
    latest = datetime(2026, 1, 5, 14, 38, tzinfo=UTC)  # 22 min before NOW
    assert gates(latest_bar_ts=latest) == GateDecision(
        False, REJECTED, "stale data: latest bar 2026-01-05T14:38:00Z is 22 min old (max 15)"
    )
    assert gates(latest_bar_ts=NOW - timedelta(minutes=15)).status == EXECUTE  # exactly max age: still fresh
    over = gates(latest_bar_ts=NOW - timedelta(minutes=15, seconds=1))
    assert over.status == REJECTED
    assert over.reason == "stale data: latest bar 2026-01-05T14:44:59Z is 15.1 min old (max 15)"
    assert gates(latest_bar_ts=NOW).status == EXECUTE


def test_no_bar_is_stale() -> None:
    assert gates(latest_bar_ts=None) == GateDecision(False, REJECTED, "stale data: no market bar (max age 15 min)")


def test_bar_from_the_future_is_rejected() -> None:
    decision = gates(latest_bar_ts=NOW + timedelta(minutes=60))
    assert decision.status == REJECTED
    assert decision.reason == (
        "stale data: latest bar 2026-01-05T16:00:00Z is 60 min in the future (clock or timezone error)"
    )


def test_stale_data_comes_before_the_budget_gates() -> None:
    decision = gates(latest_bar_ts=None, trades_today=10, notional=0.0)
    assert decision.reason.startswith("stale data")


def test_max_trades_per_day_boundary() -> None:
    assert gates(trades_today=9).status == EXECUTE
    assert gates(trades_today=10) == GateDecision(
        False, REJECTED, "max trades per day: 10 already executed today (max 10)"
    )


def test_max_trades_comes_before_notional() -> None:
    assert gates(trades_today=10, notional=0.0).reason.startswith("max trades per day")


def test_notional_gate() -> None:
    assert gates(notional=10_000.0).status == EXECUTE  # exactly the cap
    assert gates(notional=0.0) == GateDecision(
        False, REJECTED, "max notional: order quantity is 0 (one share costs more than 10000.00 per trade)"
    )
    assert gates(notional=10_000.5) == GateDecision(
        False, REJECTED, "max notional: 10000.50 exceeds 10000.00 per trade"
    )


def test_order_quantity_feeds_the_notional_gate() -> None:
    expensive = 12_000.0
    assert gates(notional=order_quantity(expensive, LIMITS) * expensive).status == REJECTED
    price = 101.2
    assert gates(notional=order_quantity(price, LIMITS) * price).status == EXECUTE


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"trades_today": -1}, "trades_today"),
        ({"consecutive_failures": -1}, "consecutive_failures"),
        ({"notional": float("nan")}, "notional"),
        ({"notional": -5.0}, "notional"),
        ({"now": datetime(2026, 1, 5, 15, 0)}, "timezone-aware"),
        ({"latest_bar_ts": datetime(2026, 1, 5, 15, 0)}, "timezone-aware"),
    ],
)
def test_check_gates_refuses_bad_inputs(overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gates(**overrides)


def test_gate_decision_cannot_contradict_itself() -> None:
    with pytest.raises(ValueError, match="contradicts"):
        GateDecision(True, HALTED, "x")
    with pytest.raises(ValueError, match="contradicts"):
        GateDecision(False, EXECUTE, "x")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_trades_per_day": -1},
        {"max_notional_per_trade": 0},
        {"max_consecutive_failures": 0},
        {"max_data_age": timedelta(seconds=-1)},
    ],
)
def test_invalid_limits_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must"):
        RiskLimits(**kwargs)


# --- kill-switch counting -------------------------------------------------------------------------------------


def at(minutes: int) -> datetime:
    return NOW - timedelta(minutes=minutes)


def test_count_consecutive_failures_counts_the_tail() -> None:
    outcomes = [(at(50), False), (at(40), True), (at(30), False), (at(20), False)]
    assert count_consecutive_failures(outcomes, kill_switch_reset_at=None) == 2
    assert count_consecutive_failures([*outcomes, (at(10), True)], kill_switch_reset_at=None) == 0
    assert count_consecutive_failures([], kill_switch_reset_at=None) == 0
    # Any input order.
    assert count_consecutive_failures(list(reversed(outcomes)), kill_switch_reset_at=None) == 2


def test_reset_wipes_the_slate() -> None:
    outcomes = [(at(50), False), (at(40), False), (at(30), False)]
    assert count_consecutive_failures(outcomes, kill_switch_reset_at=None) == 3
    assert count_consecutive_failures(outcomes, kill_switch_reset_at=at(30)) == 0  # failure at the reset: wiped
    # One new failure after the reset is one, not four: it takes 3 new failures to halt again.
    after = [*outcomes, (at(10), False)]
    assert count_consecutive_failures(after, kill_switch_reset_at=at(20)) == 1
    assert gates(consecutive_failures=count_consecutive_failures(after, kill_switch_reset_at=at(20))).allowed
