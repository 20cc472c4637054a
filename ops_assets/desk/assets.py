"""The trading-desk feed's day in Dagster: reconciliation and history replay of each day's files.

The latency-critical path (a landed file into Redis within 2 s, the 30 s working-orders snapshot) runs in the
always-on desk service (`scripts/desk_service.py`), which calls the same plain functions; a Dagster run takes
seconds to start. Dagster owns the rest: each day's history, replays, and the checks.
"""

from datetime import UTC, date, datetime

import dagster as dg

from ops_assets.desk.checks import DAY_CHECK_SPECS, day_check_results
from ops_assets.desk.partitions import desk_days
from ops_assets.desk.reconcile import reconcile_and_report
from ops_assets.desk.settings import DeskSettings
from ops_assets.freshness import DESK_DAILY
from resources.cache import RedisCache
from resources.desk_history import DeskHistory
from resources.notifier import Notifier
from resources.object_store import ObjectStore

GROUP = "desk"
OWNERS = ["team:desk"]


@dg.asset(
    partitions_def=desk_days,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "redis", "csv"},
    freshness_policy=DESK_DAILY,
    check_specs=DAY_CHECK_SPECS,
)
def desk_day_history(
    context: dg.AssetExecutionContext,
    object_store: ObjectStore,
    desk_cache: RedisCache,
    desk_history: DeskHistory,
    desk_settings: DeskSettings,
    notifier: Notifier,
) -> dg.MaterializeResult:
    """The day's Actant market-data, EOD and SOD rows in the history store, reconciled with the bucket.

    Any file of the day still at its landing key (the live consumer missed it, or Redis was down) is processed
    now: Redis, history, archive to `processed/`, or `quarantine/` with its reason and an alert. Every archived
    file of the day whose rows the history does not hold exactly is written again (idempotent on the natural
    keys), so a backfill rebuilds a day; complete files are left as they are (their rows keep their landing time).
    Checked on the same pass: every file processed or quarantined, history rows equal to each file's rows.
    Working-order snapshot rows past their 7-day expiry are deleted (the central store has no TTL; on DynamoDB the
    table's TTL does it and this deletes nothing).
    """
    day = date.fromisoformat(context.partition_key)
    outcomes, report = reconcile_and_report(
        day,
        objects=object_store,
        latest=desk_cache,
        history=desk_history,
        timezone=desk_settings.timezone,
        alert=notifier.publish,
    )
    pruned = desk_history.prune_expired(datetime.now(UTC))
    for outcome in outcomes:
        context.log.info(f"{outcome.key}: {outcome.outcome} {outcome.reason or ''}")
    return dg.MaterializeResult(
        metadata={
            "processed_files": len(report.processed),
            "rows": sum(report.processed.values()),
            "quarantined": dg.MetadataValue.json(report.quarantined),
            "pending": dg.MetadataValue.json(report.pending),
            "reconciled_now": dg.MetadataValue.json({o.key: o.outcome for o in outcomes}),
            "expired_order_rows_deleted": pruned,
        },
        check_results=day_check_results(report),
    )


desk_assets = [desk_day_history]
