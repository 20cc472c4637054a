"""Every 5 minutes: telemetry, recommendations and the dry-run dispatcher (today's partition)."""

from ops_assets.markets.jobs import market_signals_job
from ops_assets.scheduling import incremental_schedule

market_signals_schedule = incremental_schedule(
    market_signals_job, "*/5 * * * *", description="Telemetry, signals and dispatch every 5 minutes"
)
