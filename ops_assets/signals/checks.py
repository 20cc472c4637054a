"""Checks on recommendations and executions: the audit trail is complete and nothing executed twice."""

import dagster as dg
import sqlalchemy as sa

from ops_assets.signals import clock
from ops_assets.signals.assets import trade_executions, trade_recommendations
from ops_assets.signals.dispatch import lingering_pending, utc_midnight
from ops_assets.tables import markdown_table
from resources.central_schema import dispatch_executions, dispatch_recommendations, dispatch_status_history
from resources.central_store import CentralStore


@dg.asset_check(
    asset=trade_recommendations,
    description="Every recommendation's current status is the last one recorded in its status history.",
)
def status_history_is_complete(central_store: CentralStore) -> dg.AssetCheckResult:
    recs, history = dispatch_recommendations, dispatch_status_history
    last_change = (
        sa.select(history.c.recommendation_id, sa.func.max(history.c.id).label("last_id"))
        .group_by(history.c.recommendation_id)
        .subquery()
    )
    latest = (
        sa.select(history.c.recommendation_id, history.c.to_status)
        .join(last_change, history.c.id == last_change.c.last_id)
        .subquery()
    )
    with central_store.connect() as conn:
        mismatched = conn.execute(
            sa.select(sa.func.count())
            .select_from(recs.outerjoin(latest, latest.c.recommendation_id == recs.c.id))
            .where(sa.or_(latest.c.to_status.is_(None), latest.c.to_status != recs.c.status))
        ).scalar_one()
    return dg.AssetCheckResult(
        passed=mismatched == 0, metadata={"recommendations_without_matching_history": mismatched}
    )


@dg.asset_check(
    asset=trade_executions,
    description="Executions and EXECUTED statuses match one to one (no fill without status, no double fill).",
)
def executions_match_statuses(central_store: CentralStore) -> dg.AssetCheckResult:
    recs, fills = dispatch_recommendations, dispatch_executions
    with central_store.connect() as conn:
        executed_without_fill = conn.execute(
            sa.select(sa.func.count())
            .select_from(recs.outerjoin(fills, fills.c.recommendation_id == recs.c.id))
            .where(recs.c.status == "EXECUTED", fills.c.id.is_(None))
        ).scalar_one()
        fill_without_status = conn.execute(
            sa.select(sa.func.count())
            .select_from(fills.join(recs, fills.c.recommendation_id == recs.c.id))
            .where(recs.c.status != "EXECUTED")
        ).scalar_one()
    return dg.AssetCheckResult(
        passed=executed_without_fill == 0 and fill_without_status == 0,
        metadata={"executed_without_fill": executed_without_fill, "fill_without_executed_status": fill_without_status},
    )


# On trade_executions, not trade_recommendations: the dispatcher (trade_executions) is what expires the earlier
# days' PENDING rows, so the check runs after the expiry of the same run. On trade_recommendations it ran before
# it and warned right after every UTC midnight about rows the dispatcher was about to expire.
@dg.asset_check(
    asset=trade_executions,
    description="No recommendation stays PENDING past its day: today's dispatcher run expires them (EXPIRED), so "
    "any left means the dispatcher has not run today.",
)
def no_pending_past_its_day(central_store: CentralStore) -> dg.AssetCheckResult:
    lingering = lingering_pending(central_store, before=utc_midnight(clock.utc_now()))
    return dg.AssetCheckResult(
        passed=not lingering,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "pending_past_their_day": len(lingering),
            "oldest": markdown_table(
                ["recommendation", "ticker", "created at (UTC)"],
                [[rec_id, ticker, f"{created:%Y-%m-%d %H:%M}"] for rec_id, ticker, created in lingering[:20]],
            ),
        },
    )


signals_checks = [status_history_is_complete, executions_match_statuses, no_pending_past_its_day]
