"""The dry-run dispatcher's risk gates: may this recommendation become an order right now?

:func:`check_gates` applies the gates in a fixed order and reports the first one that fails:

1. **Kill switch** -> ``HALTED``. ``consecutive_failures >= max_consecutive_failures`` stops all dispatching
   until an operator resets it. It comes first because a halt is about the system, not this trade: while
   halted, the answer must be "halted" for every recommendation, whatever else is true, so the operator sees
   one clear state instead of a mix of rejections.
2. **Stale data** -> ``REJECTED``. No bar at all, a latest bar older than ``max_data_age`` (exactly
   ``max_data_age`` old still passes), or a bar stamped in the future (a clock or timezone error). Never trade
   on a price the market has moved away from; checked before the budget gates so that a stale feed shows up
   as "stale data", its real cause.
3. **Max trades per day** -> ``REJECTED`` once ``trades_today >= max_trades_per_day``.
4. **Max notional** -> ``REJECTED`` when the order is empty (one share costs more than
   ``max_notional_per_trade``, see :func:`order_quantity`) or larger than the limit.

``HALTED`` differs from ``REJECTED``: a rejection concerns one recommendation and the next may pass; a halt
persists until reset. The caller keeps the kill-switch count reset-aware with :func:`count_consecutive_failures`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ops_assets.timekeeping import iso_z, require_aware

EXECUTE: Literal["EXECUTE"] = "EXECUTE"
REJECTED: Literal["REJECTED"] = "REJECTED"
HALTED: Literal["HALTED"] = "HALTED"
GateStatus = Literal["EXECUTE", "REJECTED", "HALTED"]


@dataclass(frozen=True)
class RiskLimits:
    """Hard limits of the dispatcher; the defaults are the production settings.

    ``max_trades_per_day``: executed orders per (UTC) day, as counted by the caller.
    ``max_notional_per_trade``: price x quantity cap per order, in the quote currency.
    ``max_consecutive_failures``: failed dispatches in a row that trip the kill switch.
    ``max_data_age``: how old the latest market bar may be.
    """

    max_trades_per_day: int = 10
    max_notional_per_trade: float = 10_000
    max_consecutive_failures: int = 3
    max_data_age: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.max_trades_per_day < 0:
            raise ValueError(f"max_trades_per_day must not be negative, got {self.max_trades_per_day}")
        if not (math.isfinite(self.max_notional_per_trade) and self.max_notional_per_trade > 0):
            raise ValueError(f"max_notional_per_trade must be positive, got {self.max_notional_per_trade}")
        if self.max_consecutive_failures < 1:
            raise ValueError(f"max_consecutive_failures must be at least 1, got {self.max_consecutive_failures}")
        if self.max_data_age < timedelta(0):
            raise ValueError(f"max_data_age must not be negative, got {self.max_data_age}")


@dataclass(frozen=True)
class GateDecision:
    """The dispatcher's verdict: ``allowed`` is true exactly when ``status == "EXECUTE"``.

    ``reason`` is written to the executed-trades / audit row as is: the first failing gate, or
    ``"all gates passed"``.
    """

    allowed: bool
    status: GateStatus
    reason: str

    def __post_init__(self) -> None:
        # Two fields saying the same thing must never disagree: an allowed HALTED decision would trade.
        if self.allowed != (self.status == EXECUTE):
            raise ValueError(f"allowed={self.allowed} contradicts status={self.status}")


def order_quantity(price: float, limits: RiskLimits) -> int:
    """Whole shares to buy or sell at ``price`` without exceeding ``max_notional_per_trade``.

    ``order_quantity(101.2, RiskLimits()) == 98`` (98 x 101.2 = 9917.60 <= 10000 < 99 x 101.2). Zero when one
    share costs more than the limit; :func:`check_gates` then rejects the order.
    """
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"price must be a positive number, got {price!r}")
    cap = limits.max_notional_per_trade
    quantity = math.floor(cap / price)
    # The division can land a hair below an exact whole number (or above the cap); settle it by multiplying.
    while (quantity + 1) * price <= cap:
        quantity += 1
    while quantity > 0 and quantity * price > cap:
        quantity -= 1
    return quantity


def count_consecutive_failures(
    outcomes: Iterable[tuple[datetime, bool]], *, kill_switch_reset_at: datetime | None
) -> int:
    """Failed dispatches in a row at the end of ``outcomes``, counting only those after the last reset.

    ``outcomes``: ``(attempted_at, succeeded)`` rows, any order. A reset at ``kill_switch_reset_at`` wipes the
    slate: attempts at or before it are ignored, so after a reset it takes ``max_consecutive_failures`` *new*
    failures to halt again, not one.
    """
    rows = []
    for attempted_at, succeeded in outcomes:
        require_aware(attempted_at, "attempted_at")
        rows.append((attempted_at, succeeded))
    if kill_switch_reset_at is not None:
        require_aware(kill_switch_reset_at, "kill_switch_reset_at")
        rows = [row for row in rows if row[0] > kill_switch_reset_at]
    rows.sort(key=lambda row: row[0])
    count = 0
    for _, succeeded in reversed(rows):
        if succeeded:
            break
        count += 1
    return count


def check_gates(
    *,
    now: datetime,
    trades_today: int,
    notional: float,
    consecutive_failures: int,
    kill_switch_reset_at: datetime | None,
    latest_bar_ts: datetime | None,
    limits: RiskLimits,
) -> GateDecision:
    """Run the gates in the documented order (module docstring) and return the first failure, else EXECUTE.

    ``trades_today``: orders already executed today. ``notional``: price x quantity of the order about to be
    placed (``0`` when :func:`order_quantity` gave 0). ``consecutive_failures``: failures since the last reset
    (use :func:`count_consecutive_failures`). ``kill_switch_reset_at``: when an operator last reset the switch,
    shown in the HALTED reason. ``latest_bar_ts``: the newest market bar for the ticker, or ``None``.
    """
    require_aware(now, "now")
    if trades_today < 0:
        raise ValueError(f"trades_today must not be negative, got {trades_today}")
    if consecutive_failures < 0:
        raise ValueError(f"consecutive_failures must not be negative, got {consecutive_failures}")
    if not math.isfinite(notional) or notional < 0:
        raise ValueError(f"notional must be a non-negative number, got {notional!r}")

    if consecutive_failures >= limits.max_consecutive_failures:
        last_reset = "never reset" if kill_switch_reset_at is None else f"last reset {iso_z(kill_switch_reset_at)}"
        return GateDecision(
            False, HALTED, f"kill switch: {consecutive_failures} consecutive failures; reset to resume ({last_reset})"
        )

    max_minutes = _fmt_minutes(limits.max_data_age)
    if latest_bar_ts is None:
        return GateDecision(False, REJECTED, f"stale data: no market bar (max age {max_minutes} min)")
    require_aware(latest_bar_ts, "latest_bar_ts")
    age = now - latest_bar_ts
    if age < timedelta(0):
        # A bar from the future means a clock or timezone bug upstream; its price cannot be trusted either.
        return GateDecision(
            False,
            REJECTED,
            f"stale data: latest bar {iso_z(latest_bar_ts)} is {_fmt_minutes(-age)} min in the future"
            " (clock or timezone error)",
        )
    if age > limits.max_data_age:
        return GateDecision(
            False,
            REJECTED,
            f"stale data: latest bar {iso_z(latest_bar_ts)} is {_fmt_minutes(age)} min old (max {max_minutes})",
        )

    if trades_today >= limits.max_trades_per_day:
        return GateDecision(
            False,
            REJECTED,
            f"max trades per day: {trades_today} already executed today (max {limits.max_trades_per_day})",
        )

    cap = limits.max_notional_per_trade
    if notional == 0:
        return GateDecision(
            False, REJECTED, f"max notional: order quantity is 0 (one share costs more than {cap:.2f} per trade)"
        )
    if notional > cap:
        return GateDecision(False, REJECTED, f"max notional: {notional:.2f} exceeds {cap:.2f} per trade")

    return GateDecision(True, EXECUTE, "all gates passed")


def _fmt_minutes(value: timedelta) -> str:
    """Minutes rounded *up* to a tenth, ``.0`` dropped: ``22``, ``15.5``, and ``15.1`` for 15m01s.

    Rounding up means an over-age bar never reads as exactly the limit ("15 min old (max 15)").
    """
    tenths = -(-(value // timedelta(microseconds=1)) // 6_000_000)  # integer ceil: no float noise
    whole, fraction = divmod(tenths, 10)
    return str(whole) if fraction == 0 else f"{whole}.{fraction}"
