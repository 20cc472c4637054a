"""Success and failure notifications of the weekly fundamentals runs, through the notifier.

They read the instance's finished runs (every code location: scheduled runs, launchpad runs and
`dagster asset materialize` from the CLI alike, whose runs are recorded under a location of their own) and
act only on runs that touched the fundamentals assets: SUCCESS for a run that published the TTM artifact,
FAILURE for any failed fundamentals run. Each sends once per run, then records "Sensor ... sent ..." in that
run's log. Plain sensors rather than run-status sensors: those log "acted on run status" into every run they
look at, and these must look at all runs to find their own. The generic ``run_failure_alerts`` (monitoring)
leaves the fundamentals runs to these, so a failure is announced once.
"""

from collections.abc import Callable

import dagster as dg

from ops_assets.fundamentals.assets import fundamentals_assets, ttm_per_share
from ops_assets.fundamentals.notifications import failure_message, success_message
from ops_assets.run_events import PARTITION_TAG, latest_storage_id, planned_assets, run_changes_after, run_errors
from resources.notifier import Notifier

FUNDAMENTALS_ASSETS = frozenset(key for assets_def in fundamentals_assets for key in assets_def.keys)
ARTIFACT_ASSET = ttm_per_share.key


def _duration(instance: dg.DagsterInstance, run_id: str) -> float | None:
    stats = instance.get_run_stats(run_id)
    if stats.start_time and stats.end_time:
        return stats.end_time - stats.start_time
    return None


def _artifact_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, object] | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization and materialization.asset_key == ARTIFACT_ASSET:
            return {name: value.value for name, value in materialization.metadata.items()}
    return None


def notify_success(instance: dg.DagsterInstance, run: dg.DagsterRun, notifier: Notifier) -> str | None:
    """Send 'Financial Pipeline SUCCESS' for ``run`` if it published the artifact; the subject sent, or None."""
    if ARTIFACT_ASSET not in planned_assets(instance, run):
        return None
    metadata = _artifact_metadata(instance, run.run_id)
    if metadata is None:
        return None
    subject, body = success_message(
        day=run.tags.get(PARTITION_TAG, "unpartitioned"),
        artifact_uri=str(metadata["artifact_uri"]),
        etf_symbol=str(metadata.get("etf_symbol", "")),
        tickers=[str(t) for t in metadata.get("ticker_symbols") or []],
        rows=int(metadata.get("rows", 0)),
        failed_tickers=dict(metadata.get("failed_tickers") or {}),
        duration_seconds=_duration(instance, run.run_id),
        run_id=run.run_id,
    )
    notifier.publish(subject, body)
    return subject


def notify_failure(instance: dg.DagsterInstance, run: dg.DagsterRun, notifier: Notifier) -> str | None:
    """Send 'Financial Pipeline FAILURE' for ``run`` if it touched the fundamentals assets; the subject, or None."""
    if not planned_assets(instance, run) & FUNDAMENTALS_ASSETS:
        return None
    error, failed_steps = run_errors(instance, run.run_id)
    subject, body = failure_message(
        day=run.tags.get(PARTITION_TAG, "unpartitioned"),
        error=error,
        failed_steps=failed_steps,
        duration_seconds=_duration(instance, run.run_id),
        run_id=run.run_id,
    )
    notifier.publish(subject, body)
    return subject


def _notify_runs(
    context: dg.SensorEvaluationContext,
    status: str,
    notify: Callable[[dg.DagsterInstance, dg.DagsterRun, Notifier], str | None],
    notifier: Notifier,
) -> dg.SkipReason | None:
    if not context.cursor:
        # First evaluation: runs that finished before the sensor existed are not announced.
        context.update_cursor(str(latest_storage_id(context.instance, [status])))
        return dg.SkipReason("Started watching finished runs.")
    changes, after = run_changes_after(context.instance, int(context.cursor), [status])
    sent = 0
    for change in changes:
        subject = notify(context.instance, change.run, notifier)
        if subject is not None:
            sent += 1
            context.instance.report_engine_event(
                f'Sensor "{context.sensor_name}" sent "{subject}".', dagster_run=change.run
            )
    # Reached only when every notice went out: a failed publish fails the tick and leaves the cursor, so the
    # batch is read again on the next tick (a notice sent before the failure may then go out twice).
    context.update_cursor(str(after))
    return None if sent else dg.SkipReason(f"{len(changes)} finished runs read, none of them fundamentals runs.")


@dg.sensor(
    name="fundamentals_success_notification",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends 'Financial Pipeline SUCCESS - <date>' with the artifact URI, the tickers, rows and the "
    "tickers left out, after a run that published the weekly artifact.",
)
def fundamentals_success_notification(context: dg.SensorEvaluationContext, notifier: Notifier) -> dg.SkipReason | None:
    return _notify_runs(context, "SUCCESS", notify_success, notifier)


@dg.sensor(
    name="fundamentals_failure_notification",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends 'Financial Pipeline FAILURE - <date>' with the error when a fundamentals run fails.",
)
def fundamentals_failure_notification(context: dg.SensorEvaluationContext, notifier: Notifier) -> dg.SkipReason | None:
    return _notify_runs(context, "FAILURE", notify_failure, notifier)
