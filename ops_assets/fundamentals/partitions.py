"""Weekly partitions of the fundamentals pipeline.

A partition is named after the Sunday its run starts on (06:00 UTC), which is also the date in the
published artifact's key: the run on Sunday 2026-11-22 writes ``ttm-artifacts/2026-11-22/...`` and includes
data visible up to and including that day. ``end_offset=1`` makes the week that starts at the tick the
one the schedule runs, instead of the week that just ended.
"""

from datetime import date

import dagster as dg

weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date="2024-01-07",
    day_offset=0,
    hour_offset=6,
    timezone="UTC",
    end_offset=1,
)


def partition_date(partition_key: str) -> date:
    """The as-of date of a weekly partition (its key, a Sunday)."""
    return date.fromisoformat(partition_key)
