"""The reconciliation sensor: a file the live consumer has not handled within a while gets a Dagster run."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from ops_assets.desk.jobs import desk_day_job
from ops_assets.desk.partitions import DESK_TIMEZONE
from ops_assets.desk.reconcile import landed_keys
from ops_assets.desk.settings import DeskSettings
from resources.object_store import ObjectStore


@dg.sensor(
    job=desk_day_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every minute: a desk file still at its landing key after reconcile_after_seconds (the live "
    "consumer missed it or could not process it) starts a run of that day, which processes it.",
)
def desk_reconciliation_sensor(
    context: dg.SensorEvaluationContext, object_store: ObjectStore, desk_settings: DeskSettings
) -> dg.SensorResult | dg.SkipReason:
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(DESK_TIMEZONE)).date()
    requests = []
    for day in (today - timedelta(days=1), today):
        waiting = [
            key
            for key, landed in landed_keys(object_store, day)
            if (now - landed).total_seconds() > desk_settings.reconcile_after_seconds
        ]
        if waiting:
            requests.append(
                dg.RunRequest(
                    partition_key=day.isoformat(),
                    run_key=f"reconcile-{day}-{waiting[-1]}",
                    tags={"ops/reconcile": f"{len(waiting)} waiting, oldest {waiting[0]}"[:200]},
                )
            )
    if not requests:
        return dg.SkipReason("No desk file is waiting past its time: the live consumer keeps up.")
    return dg.SensorResult(run_requests=requests)
