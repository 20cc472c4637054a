"""Settings of the backups domain: how many nightly backups to keep.

Set by :mod:`ops_assets.environments` from ``OPS_BACKUP_KEEP``, or as the ``backup_settings`` resource config in
the launchpad.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from ops_assets.backups.manifest import DEFAULT_KEEP


class BackupSettings(dg.ConfigurableResource):
    """How many complete central-store backups stay in the object store."""

    keep: int = Field(default=DEFAULT_KEEP, ge=1, description="Newest complete backups kept; older ones are pruned.")
    restore_jobs: int = Field(default=2, ge=1, description="Parallel jobs of pg_restore in the restore drill.")
