"""Success and failure notifications of the weekly fundamentals runs, through the notifier.

They watch every run that touched the fundamentals assets — scheduled runs, launchpad runs and
`dagster asset materialize` alike — and fire once per run. They monitor all code locations because a run
started by the CLI (`-m ops_assets.definitions`) is recorded under a location of its own name; the asset
filter keeps them to our runs.
"""

import dagster as dg

from ops_assets.fundamentals.assets import fundamentals_assets, ttm_per_share
from ops_assets.fundamentals.notifications import failure_message, success_message
from resources.notifier import Notifier

FUNDAMENTALS_ASSETS = frozenset(key for assets_def in fundamentals_assets for key in assets_def.keys)
ARTIFACT_ASSET = ttm_per_share.key


def _touches(instance: dg.DagsterInstance, run: dg.DagsterRun, keys: frozenset[dg.AssetKey]) -> bool:
    """Whether the run planned to materialize any of ``keys`` (works for jobs and ad-hoc materializations)."""
    if run.asset_selection:
        return bool(set(run.asset_selection) & keys)
    planned = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    return any(
        record.event_log_entry.dagster_event.event_specific_data.asset_key in keys
        for record in planned.records
        if record.event_log_entry.dagster_event
    )


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


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="fundamentals_success_notification",
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends 'Financial Pipeline SUCCESS - <date>' with the artifact URI, tickers, rows and failed tickers.",
)
def fundamentals_success_notification(context: dg.RunStatusSensorContext, notifier: Notifier) -> None:
    run = context.dagster_run
    if not _touches(context.instance, run, frozenset({ARTIFACT_ASSET})):
        return
    metadata = _artifact_metadata(context.instance, run.run_id)
    if metadata is None:
        return
    day = run.tags.get("dagster/partition", "unpartitioned")
    tickers = list(metadata.get("ticker_symbols") or [])
    subject, body = success_message(
        day=day,
        artifact_uri=str(metadata["artifact_uri"]),
        etf_symbol=str(metadata.get("etf_symbol", "")),
        tickers=tickers,
        rows=int(metadata.get("rows", 0)),
        failed_tickers=dict(metadata.get("failed_tickers") or {}),
        duration_seconds=_duration(context.instance, run.run_id),
        run_id=run.run_id,
    )
    notifier.publish(subject, body)


@dg.run_failure_sensor(
    name="fundamentals_failure_notification",
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends 'Financial Pipeline FAILURE - <date>' with the error when a fundamentals run fails.",
)
def fundamentals_failure_notification(context: dg.RunFailureSensorContext, notifier: Notifier) -> None:
    run = context.dagster_run
    if not _touches(context.instance, run, FUNDAMENTALS_ASSETS):
        return
    step_failures = context.get_step_failure_events()
    errors = [
        event.event_specific_data.error.message.strip()
        for event in step_failures
        if event.event_specific_data and event.event_specific_data.error
    ]
    error = " | ".join(errors) or (context.failure_event.message or "unknown error")
    subject, body = failure_message(
        day=run.tags.get("dagster/partition", "unpartitioned"),
        error=error,
        failed_steps=[event.step_key or "" for event in step_failures],
        duration_seconds=_duration(context.instance, run.run_id),
        run_id=run.run_id,
    )
    notifier.publish(subject, body)
