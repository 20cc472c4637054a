"""The NYSE trading calendar (exchange_calendars' ``XNYS``): sessions, holidays, half days. Plain, no Dagster.

The calendar is built with explicit bounds: exchange_calendars' default window moves with today's date, which
would make the partitions (and everything keyed on them) change from one day to the next.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache

import exchange_calendars as xcals
import pandas as pd

EXCHANGE = "XNYS"
CALENDAR_START = date(2005, 1, 1)
CALENDAR_END = date(2030, 12, 31)
"""Bounds of the calendar (the sample series starts in 2005; exchange_calendars knows holidays ahead)."""


@cache
def nyse() -> xcals.ExchangeCalendar:
    return xcals.get_calendar(EXCHANGE, start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat())


def sessions(start: date, end: date) -> list[date]:
    """Trading days in [start, end], oldest first."""
    return [d.date() for d in nyse().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))]


def is_session(day: date) -> bool:
    return bool(nyse().is_session(pd.Timestamp(day)))


def non_session_weekdays(start: date, end: date) -> list[date]:
    """Weekdays in [start, end] the exchange is closed (holidays and one-off closures)."""
    open_days = set(sessions(start, end))
    return [d.date() for d in pd.bdate_range(start, end) if d.date() not in open_days]


def session_close(day: date) -> datetime:
    """When the session of ``day`` closes (UTC, aware): 16:00 New York, 13:00 on half days."""
    return nyse().session_close(pd.Timestamp(day)).to_pydatetime()


def previous_session(day: date) -> date:
    """The last session strictly before ``day``."""
    return nyse().date_to_session(pd.Timestamp(day) - pd.Timedelta(days=1), direction="previous").date()


def sessions_before(day: date, count: int) -> list[date]:
    """The ``count`` sessions up to and including ``day`` (or the last session before it), oldest first."""
    last = nyse().date_to_session(pd.Timestamp(day), direction="previous")
    index = nyse().sessions.get_loc(last)
    return [d.date() for d in nyse().sessions[max(0, index - count + 1) : index + 1]]
