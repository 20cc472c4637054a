"""The nightly backup job: the dump, then its restore drill (the asset's check runs in the same run)."""

import dagster as dg

from ops_assets.backups.assets import central_store_backup

central_store_backup_job = dg.define_asset_job(
    "central_store_backup_job",
    selection=dg.AssetSelection.assets(central_store_backup),
    description="Back up the central store to the object store, prune to the newest 7, then run the restore drill.",
    # Its own ECS task: pg_dump, the upload and the drill's pg_restore take minutes and memory on a large store, and
    # must not compete with the inline runs on the code-location server.
    tags={"ops/launch": "ecs", "ecs/cpu": "1024", "ecs/memory": "2048"},
)
