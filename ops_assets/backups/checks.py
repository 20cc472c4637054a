"""The restore drill: a backup that cannot be read back is not a backup."""

import dagster as dg

from ops_assets.backups.assets import central_store_backup
from ops_assets.backups.restore import alert_text, run_drill
from ops_assets.backups.settings import BackupSettings
from resources.central_store import CentralStore
from resources.notifier import Notifier
from resources.object_store import ObjectStore


@dg.asset_check(
    asset=central_store_backup,
    blocking=False,
    description="Restores the newest complete backup into a scratch database (PostgreSQL: a new database on the "
    "same server, dropped afterwards; SQLite: a temporary file) after checking its sha256, and compares every "
    "table's row count and key-column checksum with the manifest. A failure alerts through the notifier.",
)
def restore_drill(
    context: dg.AssetCheckExecutionContext,
    central_store: CentralStore,
    object_store: ObjectStore,
    notifier: Notifier,
    backup_settings: BackupSettings,
) -> dg.AssetCheckResult:
    report = run_drill(object_store, central_store.url, jobs=backup_settings.restore_jobs)
    metadata: dict[str, dg.RawMetadataValue] = {
        "backup_day": report.day or "",
        "dump": report.dump_uri or "",
        "tables_checked": report.tables_checked,
        "rows_checked": report.rows_checked,
        "seconds": dg.MetadataValue.json(report.seconds),
    }
    if report.passed:
        context.log.info(report.summary)
    else:
        metadata["problems"] = dg.MetadataValue.json(report.problems)
        subject, body = alert_text(report, store=central_store.safe_url)
        context.log.error(report.summary)
        notifier.publish(subject, body)
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary,
        metadata=metadata,
    )


backup_checks = [restore_drill]
