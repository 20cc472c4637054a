"""Trade signals: the "Sentiment + Price vs SMA20" rule and the dispatcher's risk gates.

Plain functions and frozen dataclasses (no Dagster, no database): the assets query the central store, call
:func:`~ops_assets.signals.rules.evaluate_ticker` per ticker, insert the :class:`Recommendation` rows
(``input_fingerprint`` makes the insert idempotent), and the dry-run dispatcher asks
:func:`~ops_assets.signals.risk.check_gates` before every order.
"""

from ops_assets.signals.risk import (
    EXECUTE,
    HALTED,
    REJECTED,
    GateDecision,
    RiskLimits,
    check_gates,
    count_consecutive_failures,
    order_quantity,
)
from ops_assets.signals.rules import BUY, SELL, Recommendation, SignalConfig, evaluate_ticker, sma

__all__ = [
    "BUY",
    "EXECUTE",
    "HALTED",
    "REJECTED",
    "SELL",
    "GateDecision",
    "Recommendation",
    "RiskLimits",
    "SignalConfig",
    "check_gates",
    "count_consecutive_failures",
    "evaluate_ticker",
    "order_quantity",
    "sma",
]
