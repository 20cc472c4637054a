"""Signals: trade recommendations from sentiment and price vs SMA20, and the dry-run dispatcher."""

from datetime import datetime

import dagster as dg

from ops_assets.freshness import FIVE_MINUTELY
from ops_assets.partitions import daily_partitions, day_window, evaluation_marks
from ops_assets.signals import clock
from ops_assets.signals.dispatch import day_summary, dispatch_pending, expire_pending, utc_midnight
from ops_assets.signals.killswitch import (
    RESET,
    TRIPPED,
    KillSwitchEvent,
    effective_reset,
    halted_since,
    latest_event,
    notice_to_send,
    record_event,
    reminder_message,
    tripped_message,
)
from ops_assets.signals.recommend import recommend_at
from ops_assets.signals.settings import SignalSettings
from ops_assets.tables import markdown_table
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
    marks = evaluation_marks(context, now=clock.utc_now())
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
    until an operator resets it with `reset_kill_switch_job`; one alert when it trips, a reminder every
    `kill_switch_reminder_minutes`). Each recommendation executes at most once, even with two dispatchers running.
    A day's dispatcher takes only that day's recommendations; today's run expires those of earlier days still
    PENDING (status EXPIRED, with the reason). Today's partition dispatches now; a backfilled day replays its
    5-minute marks like the recommendations, with the kill switch as it stood at each mark.
    The metadata shows the day: recommendations by status, rejections by gate and a table of the fills.
    """
    limits, config_reset = signal_settings.risk_limits(), signal_settings.kill_switch_reset()
    day_start, day_end = day_window(context)
    wall_now = clock.utc_now()
    marks = evaluation_marks(context, now=wall_now)
    expired = []
    if marks[-1] >= utc_midnight(wall_now):  # today's run: earlier days are over
        expired = expire_pending(central_store, before=utc_midnight(wall_now), now=wall_now)
        for rec_id, ticker in expired:
            context.log.warning(f"{ticker} #{rec_id}: EXPIRED (still PENDING when its day ended)")
    executed = rejected = failed = 0
    halt_reason: str | None = None
    for mark in marks:
        last_reset = latest_event(central_store, at=mark, event=RESET)
        reset_at = effective_reset(config_reset, last_reset.at if last_reset else None)
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
        _alert_halt(context, central_store, signal_settings, notifier, halt_reason, config_reset, wall_now)
    day = day_summary(central_store, start=day_start, end=day_end)
    return dg.MaterializeResult(
        metadata={
            "executed": executed,
            "rejected": rejected,
            "failed": failed,
            "expired": len(expired),
            "halted": halt_reason is not None,
            "day_recommendations": day.recommendations,
            "day_fills": len(day.fills),
            "day_summary": markdown_table(
                ["", "count"],
                [
                    ["recommendations", day.recommendations],
                    *[[f"status {status}", n] for status, n in day.by_status.items()],
                    *[[f"rejected by gate: {gate}", n] for gate, n in day.rejections_by_gate.items()],
                    ["fills", len(day.fills)],
                ],
            ),
            "fills": markdown_table(
                ["executed at (UTC)", "ticker", "action", "quantity", "fill price", "notional", "recommendation"],
                [
                    [at[:19].replace("T", " "), ticker, action, f"{qty:g}", f"{price:.2f}", f"{notional:.2f}", rid]
                    for at, ticker, action, qty, price, notional, rid in day.fills
                ],
            )
            if day.fills
            else dg.MetadataValue.md("No fills on this day."),
        }
    )


def _alert_halt(
    context: dg.AssetExecutionContext,
    central_store: CentralStore,
    signal_settings: SignalSettings,
    notifier: Notifier,
    reason: str,
    config_reset: datetime | None,
    now: datetime,
) -> None:
    """One alert when the switch trips, a reminder per interval while it stays tripped; each one recorded."""
    context.log.error(f"Dispatching halted: {reason}")
    last = latest_event(central_store)
    remind_every = signal_settings.kill_switch_reminder()
    notice = notice_to_send(
        halted=True, last_event=last, config_reset_at=config_reset, now=now, remind_every=remind_every
    )
    if notice is None:
        context.log.info(f"Kill switch alert already sent at {last.at if last else '?'}; next reminder is due later.")
        return
    if notice == TRIPPED:
        subject, body = tripped_message(reason, remind_every=remind_every)
    else:
        since = halted_since(central_store) or (last.at if last else now)
        subject, body = reminder_message(reason, halted_since=since, now=now)
    notifier.publish(subject, body)
    # Recorded after the publish: if SNS fails, the next run alerts again rather than never.
    record_event(central_store, KillSwitchEvent(notice, now, reason, run_id=context.run_id))


signals_assets = [trade_recommendations, trade_executions]
