"""The monitoring domain: the platform watching itself (freshness alerts through the notifier)."""

import dagster as dg

from ops_assets.monitoring.sensors import freshness_alerts

defs = dg.Definitions(sensors=[freshness_alerts])
