"""Partitions shared by the event-pipeline domains (news, markets, signals).

Daily partitions in UTC, thousands of keys at most over years (minute partitions would make 525k a year and
slow the UI and daemon). ``end_offset=1`` makes today's partition exist while the day runs, so the minutely
and 5-minutely schedules re-materialize *today* incrementally and idempotently (upserts on natural keys).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

daily_partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1)


def day_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """The partition's [start, end) in UTC."""
    window = context.partition_time_window
    return window.start.astimezone(UTC), window.end.astimezone(UTC)


def evaluation_time(context: dg.AssetExecutionContext, now: datetime | None = None) -> datetime:
    """Now (``now``, else the wall clock) for today's partition; the end of the day for a past one (a backfill
    sees the whole day)."""
    return min(now or datetime.now(UTC), day_window(context)[1])


def evaluation_marks(
    context: dg.AssetExecutionContext, step: timedelta = timedelta(minutes=5), now: datetime | None = None
) -> list[datetime]:
    """When to evaluate: ``[now]`` for today's partition; every ``step`` mark of a past day, 00:00 to 23:55 for
    5 minutes (a backfill replays the day as the live schedule ticked it, each mark seeing only what was known
    then; the next midnight's tick belongs to the next day). ``now``: the caller's clock (default: the wall clock)."""
    now = evaluation_time(context, now)
    start, end = day_window(context)
    if now < end:
        return [now]
    return [start + step * i for i in range(int((end - start) / step))]
