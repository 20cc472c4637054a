"""Backups of the central store: the nightly dump to the object store and its restore drill."""

import dagster as dg

from ops_assets.backups.assets import backup_assets
from ops_assets.backups.checks import backup_checks
from ops_assets.backups.jobs import central_store_backup_job
from ops_assets.backups.schedules import central_store_backup_schedule

defs = dg.Definitions(
    assets=dg.with_source_code_references(backup_assets),
    asset_checks=backup_checks,
    jobs=[central_store_backup_job],
    schedules=[central_store_backup_schedule],
)
