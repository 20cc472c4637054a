"""Operator actions on the dispatcher, launched from the UI's launchpad."""

import dagster as dg
from pydantic import Field

from ops_assets.signals import clock
from ops_assets.signals.killswitch import halted_since, reset_kill_switch, reset_message
from resources.central_store import CentralStore
from resources.notifier import Notifier


class KillSwitchResetConfig(dg.Config):
    operator: str = Field(description="Who resets the kill switch: your name or login (recorded, required).")
    reason: str = Field(
        description="Why it is safe to resume: what made the dispatches fail and what was fixed (recorded, required)."
    )


@dg.op(description="Record the reset in the central store's kill_switch_events (who, why, when) and announce it.")
def record_kill_switch_reset(
    context: dg.OpExecutionContext, config: KillSwitchResetConfig, central_store: CentralStore, notifier: Notifier
) -> None:
    since = halted_since(central_store)
    try:
        event = reset_kill_switch(
            central_store,
            operator=config.operator,
            reason=config.reason,
            at=clock.utc_now(),
            run_id=context.run_id,
        )
    except ValueError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    subject, body = reset_message(event, halted_since=since)
    notifier.publish(subject, body)
    context.log.info(f"{subject}: {event.reason}")
    context.add_output_metadata({"operator": event.operator, "reason": event.reason, "reset_at": event.at.isoformat()})


@dg.job(
    description="Operator action: reset the dispatcher's kill switch (operator and reason required). Failures "
    "before now no longer count; the next market_signals_job run dispatches again. Audited in kill_switch_events.",
    # Inline: an operator waits for it. Not retried: a retry would record (and announce) the reset twice.
    tags={"ops/launch": "inline", "dagster/max_runtime": "300", "dagster/max_retries": "0"},
)
def reset_kill_switch_job() -> None:
    record_kill_switch_reset()
