"""Daily partitions on the NYSE calendar: one partition per trading session, keyed by its New York date.

Weekends and the exchange's holidays (from exchange_calendars, no hand-written list) are excluded, so a
backfill never asks for a day without a session. ``end_offset=1`` makes the next session's partition exist
before it closes, so the after-close schedule can request the day it runs on; the asset refuses a session that
has not closed yet.
"""

from datetime import date, datetime

import dagster as dg

from ops_assets.forecasting.trading_calendar import CALENDAR_END, non_session_weekdays

FIRST_SESSION = date(2005, 1, 3)
NEW_YORK = "America/New_York"

trading_days = dg.DailyPartitionsDefinition(
    start_date=FIRST_SESSION.isoformat(),
    timezone=NEW_YORK,
    end_offset=1,
    exclusions=[
        "0 0 * * 6",  # Saturdays
        "0 0 * * 0",  # Sundays
        *(datetime.combine(day, datetime.min.time()) for day in non_session_weekdays(FIRST_SESSION, CALENDAR_END)),
    ],
)


def partition_days(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The first and last session of the run's partitions (one day, or a backfill's whole range)."""
    keys = context.partition_key_range
    return date.fromisoformat(keys.start), date.fromisoformat(keys.end)
