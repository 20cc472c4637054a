"""One backup per UTC day: the partition is the day the backup was taken (its folder backups/central/YYYY/MM/DD/)."""

from __future__ import annotations

from datetime import date, timedelta

from ops_assets.partitions import daily_partitions

backup_days = daily_partitions
"""The event pipeline's daily UTC partitions (today's exists while the day runs: ``end_offset=1``)."""


def check_backup_day(day: date, today: date) -> None:
    """A backup shows the store as it is now, so it can only be filed under today (or yesterday, for a run
    queued just before midnight); an older day would be a mislabelled copy of today's data."""
    if day > today:
        raise ValueError(f"Partition {day} is in the future (today is {today}, UTC).")
    if day < today - timedelta(days=1):
        raise ValueError(
            f"Partition {day} is in the past: a backup captures the central store as it is now and cannot be taken "
            f"for an earlier day. Materialize today's partition ({today}) instead; older backups are kept under "
            "backups/central/ as they were taken."
        )
