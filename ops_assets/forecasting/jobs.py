"""The forecasting jobs: the daily data-and-predictions job, training (its own, sized for an ECS task), and the
operator's rollback of the champion."""

import dagster as dg
from pydantic import Field

from ops_assets.forecasting.assets import GROUP
from ops_assets.forecasting.registry import ModelRegistry
from resources.notifier import Notifier
from resources.object_store import ObjectStore

TRAINING_ASSET = "forecast_model"

forecasting_daily_job = dg.define_asset_job(
    "forecasting_daily_job",
    selection=dg.AssetSelection.groups(GROUP) - dg.AssetSelection.assets(TRAINING_ASSET),
    description="After the NYSE close: the session's prices and checks, features, the champion's forecasts, and "
    "the realised performance of earlier forecasts.",
    # Small and daily: the code-location service runs it.
    tags={"ops/launch": "inline", "dagster/max_runtime": "3600"},
)

forecasting_training_job = dg.define_asset_job(
    "forecasting_training_job",
    selection=dg.AssetSelection.assets(TRAINING_ASSET),
    description="Search, walk-forward evaluation and the promotion gate: a new model version, promoted or not.",
    # Training is CPU-bound for minutes: an ECS task of its own (read by the ECS run launcher).
    tags={"ops/launch": "ecs", "ecs/cpu": "2048", "ecs/memory": "8192"},
)


class RollbackConfig(dg.Config):
    reason: str = Field(description="Why the champion is rolled back (recorded with the rollback, required).")


@dg.op(description="Make the previous champion the champion again, with the reason recorded and notified.")
def rollback_champion(
    context: dg.OpExecutionContext, config: RollbackConfig, object_store: ObjectStore, notifier: Notifier
) -> None:
    reason = config.reason.strip()
    if not reason:
        raise dg.Failure(description="A rollback needs a reason: say why in the run config's `reason`.")
    registry = ModelRegistry(object_store)
    before = registry.champion()
    after = registry.rollback(f"{reason} (run {context.run_id})")
    notifier.publish(f"Forecast model ROLLED BACK - version {before} -> {after}", reason)
    # Shown on forecast_model in the UI, beside its promotions and rejections.
    context.log_event(
        dg.AssetObservation(
            asset_key=TRAINING_ASSET,
            metadata={"decision": "ROLLED BACK", "from_version": before, "champion": after, "reason": reason},
        )
    )


@dg.job(
    description="Operator action: roll the forecast champion back to the previous one (reason required).",
    # Seconds of work. Never re-executed automatically: a second rollback would go back one more version.
    tags={"ops/launch": "inline", "dagster/max_runtime": "600", "dagster/max_retries": "0"},
)
def forecast_rollback_job() -> None:
    rollback_champion()
