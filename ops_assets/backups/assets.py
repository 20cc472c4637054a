"""Backups: the central store dumped nightly to the object store, checked by the restore drill (checks.py)."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from ops_assets.backups.dump import BackupError, backup_central_store
from ops_assets.backups.partitions import backup_days, check_backup_day
from ops_assets.backups.settings import BackupSettings
from resources.central_store import CentralStore
from resources.object_store import ObjectStore

GROUP = "backups"
OWNERS = ["team:platform"]

# Nightly: a missed night warns, two fail.
NIGHTLY = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=49), warn_window=timedelta(hours=25))


@dg.asset(
    partitions_def=backup_days,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "sql"},
    freshness_policy=NIGHTLY,
)
def central_store_backup(
    context: dg.AssetExecutionContext,
    central_store: CentralStore,
    object_store: ObjectStore,
    backup_settings: BackupSettings,
) -> dg.MaterializeResult:
    """The central store's backup of the day, at `backups/central/YYYY/MM/DD/` in the object store.

    PostgreSQL: `pg_dump --format=custom` of one exported snapshot; SQLite (`local`): SQLite's online backup API.
    Beside the dump: `<dump>.sha256` and `manifest.json` (sha256, size, per-table row counts and key-column
    checksums taken in the same snapshot), written last: a day without a manifest is not a backup. A rerun of the
    day replaces its backup (the manifest switches to the new dump, then the old one is deleted). The newest
    `OPS_BACKUP_KEEP` (7) complete backups are kept, older ones pruned. The `restore_drill` check restores the
    newest one into a scratch database. Restore by hand: docs/OPERATIONS.md.
    """
    day = date.fromisoformat(context.partition_key)
    try:
        check_backup_day(day, datetime.now(UTC).date())
    except ValueError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    try:
        stored, pruned = backup_central_store(
            central_store.url,
            object_store,
            day=day,
            keep=backup_settings.keep,
            source=central_store if central_store.url.startswith("postgresql") else None,
        )
    except BackupError as exc:
        raise dg.Failure(description=str(exc)) from None
    manifest = stored.manifest
    for key in stored.replaced:
        context.log.info(f"Replaced the day's earlier backup file {key}")
    if pruned:
        context.log.info(f"Pruned {len(pruned)} objects of backups older than the newest {backup_settings.keep}")
    return dg.MaterializeResult(
        metadata={
            "dump": dg.MetadataValue.path(object_store.uri(stored.dump_key)),
            "manifest": dg.MetadataValue.path(object_store.uri(stored.manifest_key)),
            "engine": manifest.engine,
            "sha256": manifest.sha256,
            "size_bytes": manifest.size_bytes,
            "total_rows": manifest.total_rows,
            "rows_per_table": dg.MetadataValue.json({n: t.rows for n, t in sorted(manifest.tables.items())}),
            "taken_at": manifest.taken_at.isoformat(),
            "tool": manifest.tool,
            "pruned_objects": len(pruned),
            "central_store": central_store.safe_url,
        }
    )


backup_assets = [central_store_backup]
