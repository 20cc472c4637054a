"""The freshness watchdog: one notification when assets go stale, one when they recover.

Dagster's freshness daemon (part of `dagster-daemon` / `dagster dev`; our `dagster.yaml`s enable it
explicitly) evaluates every asset's
freshness policy every 30 s and records PASS / WARN / FAIL in the event log, where the UI shows it. This
sensor reads those states and sends them through the notifier (the outbox locally, SNS in aws), keeping
what it last reported in its cursor so each change is said once.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from ops_assets.monitoring.alerts import FreshnessChange, changes_to_report, freshness_message
from resources.notifier import Notifier


def _policies(context: dg.SensorEvaluationContext) -> dict[dg.AssetKey, dg.FreshnessPolicy]:
    graph = context.repository_def.asset_graph
    return {node.key: node.freshness_policy for node in graph.asset_nodes if node.freshness_policy is not None}


def _last_materialized(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> dict[dg.AssetKey, datetime]:
    times = {}
    for record in instance.get_asset_records(keys):
        event = record.asset_entry.last_materialization
        if event is not None:
            times[record.asset_entry.asset_key] = datetime.fromtimestamp(event.timestamp, UTC)
    return times


@dg.sensor(
    name="freshness_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Notifies when an asset misses its freshness window (WARN, then FAIL) and when it is fresh again, "
        "from the states Dagster's freshness daemon records."
    ),
)
def freshness_alerts(context: dg.SensorEvaluationContext, notifier: Notifier) -> dg.SkipReason | None:
    policies = _policies(context)
    keys = sorted(policies, key=lambda key: key.to_user_string())
    records = context.instance.get_freshness_state_records(keys)
    current = {key.to_user_string(): record.freshness_state.value for key, record in records.items()}
    reported = json.loads(context.cursor) if context.cursor else {}
    to_report, new_reported = changes_to_report(reported, current)
    if not to_report:
        if new_reported != reported:
            context.update_cursor(json.dumps(new_reported, sort_keys=True))
        return dg.SkipReason("No freshness changes to report.")
    last_materialized = _last_materialized(context.instance, keys)
    changes = []
    for key in keys:
        name = key.to_user_string()
        if name not in to_report:
            continue
        previous, state = to_report[name]
        policy = policies[key]
        changes.append(
            FreshnessChange(
                asset=name,
                previous=previous,
                current=state,
                last_materialized_at=last_materialized.get(key),
                warn_after=policy.warn_window.to_timedelta() if getattr(policy, "warn_window", None) else None,
                fail_after=policy.fail_window.to_timedelta() if getattr(policy, "fail_window", None) else None,
            )
        )
    subject, body = freshness_message(changes, now=datetime.now(UTC))
    notifier.publish(subject, body)
    # The cursor moves only after the notification went out: a failed publish is retried next tick.
    context.update_cursor(json.dumps(new_reported, sort_keys=True))
    context.log.info(subject)
    return None
