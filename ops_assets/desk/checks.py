"""Checks on the desk feed: every file handled, history rows equal file rows, and the dashboard's keys fresh.

The first two judge the day's :class:`~ops_assets.desk.reconcile.DayReport`, which reading and parsing every
file of the day produces: they are check specs the ``desk_day_history`` asset evaluates on the report it has just
computed (:func:`day_check_results`), rather than separate check ops that would each list and parse the whole day
again. ``desk_feed_is_fresh`` reads only two Redis keys and runs on its own every 5 minutes.
"""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import dagster as dg

from ops_assets.desk.partitions import DESK_TIMEZONE
from ops_assets.desk.reconcile import DayReport, seconds_since
from ops_assets.desk.settings import DeskSettings
from resources.cache import RedisCache

DESK_DAY_HISTORY = dg.AssetKey("desk_day_history")
"""The day's asset (``assets.desk_day_history``), by key: assets.py imports this module for the specs below."""

# Actant publishes through the CME day session (the sample's 08:30-15:15 Chicago); keys are judged only then.
TRADING_HOURS = (time(8, 30), time(15, 15))


def stale_keys(
    now: datetime, market_age: float | None, orders_age: float | None, settings: DeskSettings
) -> list[str] | None:
    """What is stale among the dashboard's keys at ``now`` (ages in seconds, ``None`` = never written);
    ``None`` outside trading hours, when nothing is expected to move."""
    local = now.astimezone(ZoneInfo(DESK_TIMEZONE))
    if local.weekday() >= 5 or not TRADING_HOURS[0] <= local.time() <= TRADING_HOURS[1]:
        return None
    stale = []
    if market_age is None or market_age > settings.market_max_age_seconds:
        stale.append(f"market data {'never written' if market_age is None else f'{market_age:.0f} s old'}")
    if orders_age is None or orders_age > settings.orders_max_age_seconds:
        stale.append(f"TT orders {'never written' if orders_age is None else f'{orders_age:.0f} s old'}")
    return stale


DAY_CHECK_SPECS = [
    dg.AssetCheckSpec(
        "every_file_handled", asset=DESK_DAY_HISTORY, description="Every file of the day is processed or quarantined."
    ),
    dg.AssetCheckSpec(
        "history_matches_files",
        asset=DESK_DAY_HISTORY,
        description="The history holds exactly the rows of each processed file.",
    ),
]
"""Evaluated by ``desk_day_history`` on the report it computes (:func:`day_check_results`)."""


def day_check_results(report: DayReport) -> list[dg.AssetCheckResult]:
    """The results of :data:`DAY_CHECK_SPECS` for one day's report."""
    return [
        dg.AssetCheckResult(
            check_name="every_file_handled",
            passed=not report.pending,
            description=f"{len(report.pending)} files still waiting at their landing keys" if report.pending else "all",
            metadata={"pending": dg.MetadataValue.json(report.pending), "quarantined": len(report.quarantined)},
        ),
        dg.AssetCheckResult(
            check_name="history_matches_files",
            passed=not report.mismatched,
            description=f"{len(report.mismatched)} of {len(report.processed)} files differ"
            if report.mismatched
            else "equal",
            metadata={"mismatched": dg.MetadataValue.json({k: list(v) for k, v in report.mismatched.items()})},
        ),
    ]


@dg.asset_check(
    asset=DESK_DAY_HISTORY,
    description="During trading hours the dashboard's last_update keys are fresh (market data and TT orders).",
)
def desk_feed_is_fresh(desk_cache: RedisCache, desk_settings: DeskSettings) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    client = desk_cache.client()
    market = seconds_since(client.get(desk_cache.key("last_update:actant:market")), now)
    orders = seconds_since(client.get(desk_cache.key("last_update:tt:orders")), now)
    stale = stale_keys(now, market, orders, desk_settings)
    if stale is None:
        local = now.astimezone(ZoneInfo(DESK_TIMEZONE))
        return dg.AssetCheckResult(passed=True, description=f"Outside trading hours ({local:%a %H:%M} Chicago).")
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        description="stale: " + "; ".join(stale) if stale else "fresh",
        metadata={"market_age_seconds": market, "orders_age_seconds": orders},
    )


desk_checks = [desk_feed_is_fresh]
"""The checks with their own ops (the day's two others are :data:`DAY_CHECK_SPECS`, inside the asset)."""
