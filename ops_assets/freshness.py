"""Freshness expectations by cadence: an asset is stale once its schedule has clearly missed runs."""

from datetime import timedelta

import dagster as dg

# Weekly (Sunday 06:00 UTC): stale once a Sunday run has been missed.
WEEKLY = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=6))
# Every minute: a few missed ticks warn, ten minutes without a run fails.
MINUTELY = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=10), warn_window=timedelta(minutes=3))
# Every 5 minutes: two missed ticks warn, four fail.
FIVE_MINUTELY = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=20), warn_window=timedelta(minutes=10))
# Every NYSE session, after the close: a weekend is 72 h between runs, a long weekend 96 h.
TRADING_DAILY = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=4, hours=2), warn_window=timedelta(days=3, hours=2)
)
# Every weekday after the desk's close (the live feed's own freshness is the desk_feed_is_fresh check).
DESK_DAILY = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=4), warn_window=timedelta(days=3, hours=2))
