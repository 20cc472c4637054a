"""The trading-desk feed: Actant files into Redis and history (live in the desk service), each day reconciled and
checked in Dagster, TT working-order snapshots (desk service)."""

import dagster as dg

from ops_assets.desk.assets import desk_assets
from ops_assets.desk.checks import desk_checks
from ops_assets.desk.jobs import desk_day_job, desk_freshness_job
from ops_assets.desk.schedules import desk_day_schedule, desk_freshness_schedule
from ops_assets.desk.sensors import desk_reconciliation_sensor

defs = dg.Definitions(
    assets=dg.with_source_code_references(desk_assets),
    asset_checks=desk_checks,
    jobs=[desk_day_job, desk_freshness_job],
    schedules=[desk_day_schedule, desk_freshness_schedule],
    sensors=[desk_reconciliation_sensor],
)
