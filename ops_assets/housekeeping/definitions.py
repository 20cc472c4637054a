"""Housekeeping: the Dagster instance's own upkeep (run retention)."""

import dagster as dg

from ops_assets.housekeeping.jobs import run_retention_job
from ops_assets.housekeeping.schedules import run_retention_schedule

defs = dg.Definitions(jobs=[run_retention_job], schedules=[run_retention_schedule])
