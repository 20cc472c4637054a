"""The nightly backup job: the dump, then its restore drill (the asset's check runs in the same run)."""

import dagster as dg

from ops_assets.backups.assets import central_store_backup

central_store_backup_job = dg.define_asset_job(
    "central_store_backup_job",
    selection=dg.AssetSelection.assets(central_store_backup),
    description="Back up the central store to the object store, prune to the newest 7, then run the restore drill.",
)
