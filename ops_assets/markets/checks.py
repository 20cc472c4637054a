"""Checks on the stored 5-minute bars."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from ops_assets.markets.assets import market_telemetry
from resources.central_schema import lane_telemetry
from resources.central_store import CentralStore


@dg.asset_check(
    asset=market_telemetry,
    description="Every bar is consistent (low <= open, close <= high; volume >= 0) and none is stamped in the future.",
)
def bars_are_consistent(central_store: CentralStore) -> dg.AssetCheckResult:
    bars = lane_telemetry
    inconsistent = sa.or_(
        bars.c.low > bars.c.open,
        bars.c.low > bars.c.close,
        bars.c.high < bars.c.open,
        bars.c.high < bars.c.close,
        bars.c.volume < 0,
    )
    # Bars are stamped with their start; a clock a little ahead should not fail the check.
    future = bars.c.ts > datetime.now(UTC) + timedelta(minutes=5)
    with central_store.connect() as conn:
        bad = conn.execute(sa.select(sa.func.count()).where(inconsistent)).scalar_one()
        ahead = conn.execute(sa.select(sa.func.count()).where(future)).scalar_one()
    return dg.AssetCheckResult(
        passed=bad == 0 and ahead == 0, metadata={"inconsistent_bars": bad, "future_bars": ahead}
    )


markets_checks = [bars_are_consistent]
