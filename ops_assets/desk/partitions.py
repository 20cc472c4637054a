"""One partition per desk day (the date in the bucket's YYYY/MM/DD folders), in Chicago time like Actant's files."""

import dagster as dg

DESK_TIMEZONE = "America/Chicago"

desk_days = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone=DESK_TIMEZONE, end_offset=1)
