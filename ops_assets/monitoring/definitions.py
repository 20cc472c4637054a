"""The monitoring domain: the platform watching itself (run failures and freshness, through the notifier)."""

import dagster as dg

from ops_assets.monitoring.sensors import freshness_alerts, run_failure_alerts

defs = dg.Definitions(sensors=[run_failure_alerts, freshness_alerts])
