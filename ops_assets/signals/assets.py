"""Signals: trade recommendations from sentiment and price vs SMA20, and the dry-run dispatcher."""

import dagster as dg

from ops_assets.freshness import FIVE_MINUTELY
from ops_assets.partitions import daily_partitions, day_window, evaluation_marks
from ops_assets.signals.dispatch import dispatch_pending
from ops_assets.signals.recommend import recommend_at
from ops_assets.signals.settings import SignalSettings
from resources.central_store import CentralStore
from resources.notifier import Notifier

GROUP = "signals"
MARKET_TELEMETRY = dg.AssetKey("market_telemetry")
"""The markets domain's bars; its materializations record ``watched_tickers``, the tickers to evaluate."""
OWNERS = ["team:signals"]


def watched_tickers(instance: dg.DagsterInstance) -> list[str]:
    """The tickers the markets domain watched in its latest market_telemetry run (its ``watched_tickers``)."""
    event = instance.get_latest_materialization_event(MARKET_TELEMETRY)
    value = (
        event.asset_materialization.metadata.get("watched_tickers") if event and event.asset_materialization else None
    )
    if value is None:
        raise dg.Failure(
            description="market_telemetry has no run that recorded its watched tickers yet: materialize it first "
            "(market_signals_job runs it before the recommendations).",
            allow_retries=False,
        )
    return [str(t) for t in value.value]


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    owners=OWNERS,
    deps=["classified_events", MARKET_TELEMETRY],
    kinds={"python", "sql"},
    freshness_policy=FIVE_MINUTELY,
)
def trade_recommendations(
    context: dg.AssetExecutionContext, central_store: CentralStore, signal_settings: SignalSettings
) -> dg.MaterializeResult:
    """BUY/SELL recommendations (`dispatch_recommendations`, written PENDING with their reason).

    A ticker gets one when the mean sentiment of its recent articles (at least `min_articles` in the window)
    crosses a threshold and its last close is on the same side of its 20-bar SMA; then a cooldown applies.
    Today's partition evaluates now; a backfilled day replays every 5-minute mark of that day, seeing only
    what was known at each mark. The same inputs never write a second row.
    """
    config = signal_settings.signal_config()
    tickers = watched_tickers(context.instance)
    marks = evaluation_marks(context)
    new = []
    for mark in marks:
        new += recommend_at(central_store, tickers, now=mark, config=config)
    for rec in new:
        context.log.info(f"{rec.action} {rec.ticker}: {rec.reason}")
    return dg.MaterializeResult(
        metadata={"new_recommendations": len(new), "evaluated_at": str(marks[-1]), "marks_evaluated": len(marks)}
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    owners=OWNERS,
    deps=[trade_recommendations],
    kinds={"python", "sql"},
    freshness_policy=FIVE_MINUTELY,
)
def trade_executions(
    context: dg.AssetExecutionContext,
    central_store: CentralStore,
    signal_settings: SignalSettings,
    notifier: Notifier,
) -> dg.MaterializeResult:
    """Dry-run fills of PENDING recommendations at the latest 5-minute close (`dispatch_executions`).

    Behind risk gates: max trades per day, max notional per trade, stale data (no bar newer than
    `max_data_age_minutes`: rejected with the reason) and a kill switch (N consecutive failures halt dispatching
    and alert until reset). Each recommendation executes at most once, even with two dispatchers running.
    A day's dispatcher takes only that day's recommendations. Today's partition dispatches now; a backfilled day
    replays its 5-minute marks like the recommendations, with the kill switch as it stood at each mark.
    """
    limits, reset_at = signal_settings.risk_limits(), signal_settings.kill_switch_reset()
    day_start = day_window(context)[0]
    executed = rejected = failed = 0
    halt_reason: str | None = None
    for mark in evaluation_marks(context):
        summary = dispatch_pending(
            central_store, now=mark, limits=limits, kill_switch_reset_at=reset_at, created_after=day_start
        )
        executed, rejected, failed = executed + summary.executed, rejected + summary.rejected, failed + summary.failed
        for outcome in summary.outcomes:
            context.log.info(f"{outcome.ticker} #{outcome.recommendation_id}: {outcome.status} ({outcome.reason})")
        if summary.halted:
            halt_reason = summary.halt_reason or "kill switch engaged"
            break
    if halt_reason is not None:
        reason = halt_reason
        notifier.publish(
            "Dispatcher HALTED - kill switch",
            f"Dispatching is halted: {reason}. Pending recommendations wait. To resume, fix the cause and set "
            "the signal_settings kill_switch_reset_at (OPS_SIGNALS_KILL_SWITCH_RESET_AT) to the current time.",
        )
        context.log.error(f"Dispatching halted: {reason}")
    return dg.MaterializeResult(
        metadata={"executed": executed, "rejected": rejected, "failed": failed, "halted": halt_reason is not None}
    )


signals_assets = [trade_recommendations, trade_executions]
