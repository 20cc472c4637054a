"""The daily run-retention job: delete old finished runs and their event logs from the Dagster instance."""

from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from ops_assets.housekeeping.retention import (
    RetentionPolicy,
    RetentionReport,
    RunSummary,
    next_cursor,
    runs_to_delete,
)
from ops_assets.housekeeping.settings import HousekeepingSettings


def latest_asset_event_runs(instance: dg.DagsterInstance) -> set[str]:
    """The runs holding some asset's latest materialization or observation, the latest materialization of some
    partition of an asset, or some check's latest execution (kept whatever their age: the catalog shows them as
    the asset's, the partition's or the check's current state)."""
    runs: set[str] = set()
    for record in instance.get_asset_records():
        entry = record.asset_entry
        for event in (entry.last_materialization_record, entry.last_observation_record):
            if event is not None and event.event_log_entry.run_id:
                runs.add(event.event_log_entry.run_id)
        runs.update(latest_partition_materialization_runs(instance, entry.asset_key))
    storage = instance.event_log_storage
    if isinstance(storage, SqlEventLogStorage) and storage.has_table(AssetCheckExecutionsTable.name):
        table = AssetCheckExecutionsTable
        latest = sa.select(sa.func.max(table.c.id)).group_by(table.c.asset_key, table.c.check_name)
        with storage.index_connection() as conn:
            runs.update(row[0] for row in conn.execute(sa.select(table.c.run_id).where(table.c.id.in_(latest))))
    return runs


# Storage ids looked up per query when mapping partitions' latest materializations to their runs.
_STORAGE_ID_CHUNK = 500


def latest_partition_materialization_runs(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> set[str]:
    """The runs holding the latest materialization of each partition of ``asset_key`` (none if unpartitioned).

    Without them an older partition (last week's fundamentals, an earlier day's backup) would lose its only
    materialization: ``get_materialized_partitions`` would stop listing it and the UI would show it missing. One
    grouped query (event_logs' asset/partition index) finds each partition's latest storage id, then the runs are
    read by storage id in chunks: a few queries per asset, not one per partition.
    """
    latest = instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    storage_ids = sorted(set(latest.values()))
    runs: set[str] = set()
    for start in range(0, len(storage_ids), _STORAGE_ID_CHUNK):
        chunk = storage_ids[start : start + _STORAGE_ID_CHUNK]
        found = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=chunk), limit=len(chunk)
        )
        runs.update(record.run_id for record in found.records if record.run_id)
    return runs


def delete_run(instance: dg.DagsterInstance, run_id: str) -> None:
    """The run, its event log (DagsterInstance.delete_run) and its asset-check executions, which Dagster's
    delete_run leaves behind (one row per check evaluation, each with the serialized evaluation)."""
    instance.delete_run(run_id)
    storage = instance.event_log_storage
    if isinstance(storage, SqlEventLogStorage) and storage.has_table(AssetCheckExecutionsTable.name):
        with storage.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.delete().where(AssetCheckExecutionsTable.c.run_id == run_id))


def pool_connections(instance: dg.DagsterInstance) -> None:
    """Let ``instance`` reuse its database connections for the rest of this process, as dagster-webserver does.

    dagster-postgres opens a new connection for every statement (no pool), and deleting a run takes several
    statements: pooled, pruning measured ~4x faster (benchmarks/bench_run_retention.py). The job's run worker is a
    process of its own, so nothing else shares the change. No statement timeout; connections recycled hourly.
    """
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=5)


def _summary(record: dg.RunRecord) -> RunSummary:
    return RunSummary(record.dagster_run.run_id, record.dagster_run.status.value, record.create_timestamp)


def prune_runs(
    instance: dg.DagsterInstance,
    policy: RetentionPolicy,
    now: datetime | None = None,
    log: dg.DagsterLogManager | None = None,
) -> RetentionReport:
    """Delete, batch by batch (oldest first), the runs ``policy`` no longer keeps, with their event logs."""
    now = now or datetime.now(UTC)
    report = RetentionReport()
    protected = latest_asset_event_runs(instance)
    candidates = dg.RunsFilter(created_before=policy.oldest_cutoff(now))
    cursor: str | None = None
    while True:
        page = [
            _summary(r)
            for r in instance.get_run_records(candidates, limit=policy.batch_size, ascending=True, cursor=cursor)
        ]
        if not page:
            break
        report.batches += 1
        doomed = runs_to_delete(page, now, policy, protected, report)
        statuses = {run.run_id: run.status for run in page}
        for run_id in doomed:
            delete_run(instance, run_id)
            report.deleted += 1
            report.deleted_by_status[statuses[run_id]] = report.deleted_by_status.get(statuses[run_id], 0) + 1
        if log:
            log.info(f"Batch {report.batches}: {len(page)} runs examined, {len(doomed)} deleted")
        cursor = next_cursor(page, set(doomed), cursor)
        if len(page) < policy.batch_size:
            break
    return report


@dg.op(out=dg.Out(dg.Nothing))
def prune_old_runs(context: dg.OpExecutionContext, housekeeping_settings: HousekeepingSettings) -> dg.Output:
    """Delete finished runs older than the retention age (failed runs: the longer age) and their event logs."""
    policy = housekeeping_settings.policy()
    pool_connections(context.instance)
    report = prune_runs(context.instance, policy, log=context.log)
    context.log.info(
        f"Deleted {report.deleted} of {report.examined} runs older than {policy.max_age_days} days "
        f"(failed: {policy.failed_max_age_days} days); kept {report.kept_in_progress} in progress, "
        f"{report.kept_latest_asset_event} holding an asset's latest event"
    )
    return dg.Output(
        None,
        metadata={
            **report.as_metadata(),
            "max age (days)": policy.max_age_days,
            "failed-run max age (days)": policy.failed_max_age_days,
        },
    )


# Inline: database work only, no reason to wait a minute for a Fargate task. A first pass over a long backlog may
# hit the hour's limit; it deletes in batches, so the next day's run carries on where it stopped.
@dg.job(tags={"ops/launch": "inline", "dagster/max_runtime": "3600"})
def run_retention_job() -> None:
    """Deletes finished runs older than the retention age, with their event logs, so the instance's database and
    the Runs page stay small. Failed runs are kept longer; runs in progress are never deleted."""
    prune_old_runs()
