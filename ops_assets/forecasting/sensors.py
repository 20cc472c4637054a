"""Retraining on drift or degradation.

A failed forecasting run is announced by the monitoring domain's ``run_failure_alerts``, like every job's.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ops_assets.forecasting.health import champion_health
from ops_assets.forecasting.jobs import forecasting_training_job
from ops_assets.forecasting.settings import ForecastingSettings
from resources.notifier import Notifier
from resources.object_store import ObjectStore

RETRAIN_REASON_TAG = "ops/retrain_reason"


@dg.sensor(
    job=forecasting_training_job,
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a training run when the champion's features drift or its live MASE degrades, at most "
    "once per retrain_min_interval_hours; the reason is in the run's ops/retrain_reason tag.",
)
def forecast_retrain_sensor(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStore,
    forecasting_settings: ForecastingSettings,
    notifier: Notifier,
) -> dg.SensorResult | dg.SkipReason:
    settings = forecasting_settings
    health = champion_health(
        object_store,
        settings.tickers,
        psi_threshold=settings.drift_psi_threshold,
        degradation_threshold=settings.degradation_threshold,
    )
    reasons = health.reasons() if health else []
    if not reasons:
        return dg.SkipReason("The champion shows no drift or degradation." if health else "The naive forecast serves.")
    now = datetime.now(UTC)
    last = datetime.fromisoformat(context.cursor) if context.cursor else None
    if last and now - last < timedelta(hours=settings.retrain_min_interval_hours):
        return dg.SkipReason(f"Retraining was requested at {last:%Y-%m-%d %H:%M} UTC; not again so soon.")
    reason = "; ".join(reasons)
    notifier.publish(f"Forecast model RETRAIN requested - version {health.version}", reason)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"retrain-{now:%Y%m%dT%H%M}", tags={RETRAIN_REASON_TAG: reason[:2000]})],
        cursor=now.isoformat(),
    )
