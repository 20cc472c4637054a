"""`make run`: this week's fundamentals and one event-pipeline tick on the embedded default; then where things are."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from ops_assets.cli import (
    EVENT_PIPELINE,
    FORECASTING_DATA,
    FORECASTING_SERVING,
    FORECASTING_TRAINING,
    FUNDAMENTALS,
    MARKETS_AND_SIGNALS,
    materialize_command,
)
from ops_assets.environments import local_data_dir, sample_forecasting_day, sample_replay_day
from ops_assets.forecasting import keys as forecast_keys
from ops_assets.forecasting.registry import ModelRegistry
from ops_assets.forecasting.storage import frame_from_parquet
from ops_assets.fundamentals import keys
from ops_assets.fundamentals.partitions import partition_date, weekly_partitions
from ops_assets.partitions import daily_partitions
from resources.central_schema import dispatch_executions, dispatch_recommendations
from resources.central_store import CentralStore
from resources.object_store import LocalObjectStore


def materialize(title: str, partition: str | None, selection: str) -> int:
    """One `dagster asset materialize` of ``selection`` for ``partition``; its exit code (0 = success)."""
    print(f"\n{title} ...", flush=True)
    result = subprocess.run(materialize_command(partition, sys.executable, selection), check=False)
    if result.returncode != 0:
        print(f"\n{title} failed (exit {result.returncode}); the error is above.", file=sys.stderr)
    return result.returncode


def main() -> int:
    # The week that started last Sunday 06:00 UTC (the one the schedule ran or would run now).
    partition = weekly_partitions.get_last_partition_key()
    if partition is None:
        raise SystemExit("No weekly partition has started yet.")
    replay_day, forecast_day = sample_replay_day(), sample_forecasting_day()
    source = "the bundled offline sample source" if replay_day else "Alpha Vantage"
    today = daily_partitions.get_last_partition_key()
    steps = [(f"Materializing the fundamentals assets for week {partition} from {source}", partition, FUNDAMENTALS)]
    steps.append(
        (f"One tick of the event pipeline (news, telemetry, signals, dispatch) for {today}", today, EVENT_PIPELINE)
    )
    if replay_day:
        # The bundled prices end before today, so today's tick has no fresh bars to trade on; a backfill of the
        # sample's last trading day replays its 5-minute marks against the news the tick just stored.
        day = replay_day.isoformat()
        steps.append(
            (
                f"Replaying the sample's last trading day, {day} (telemetry, signals, dry-run dispatch)",
                day,
                MARKETS_AND_SIGNALS,
            )
        )
    if forecast_day:
        day = forecast_day.isoformat()
        steps += [
            (
                f"Forecasting data for the sample's last session, {day} (prices, checks, features)",
                day,
                FORECASTING_DATA,
            ),
            (
                "Training the forecast model (search, walk-forward evaluation, promotion gate)",
                None,
                FORECASTING_TRAINING,
            ),
            (f"The champion's forecasts from {day}, how earlier ones did, the report", day, FORECASTING_SERVING),
        ]
    for title, key, selection in steps:
        if code := materialize(title, key, selection):
            return code
    if forecast_day:
        print_forecast(forecast_day)
    if os.environ.get("OPS_ENV", "local") == "local":
        run_desk_sample()
    if os.environ.get("OPS_ENV", "local") == "local":
        print(f"\nCentral store (SQLite): {local_data_dir() / 'central_store.db'}")
        print_trades(f"sqlite:///{local_data_dir() / 'central_store.db'}")
        artifact = local_data_dir() / "object-store" / keys.artifact_key(partition_date(partition))
        print(f"\nArtifact: {artifact}")
        print(f"Object store (laid out like the S3 bucket): {Path(local_data_dir()) / 'object-store'}")
    print("Open the UI on the same instance: make ui  (then http://127.0.0.1:3000)")
    return 0


def print_trades(url: str) -> None:
    """The latest recommendations and their dry-run outcome, as the dispatcher recorded them."""
    recs, fills = dispatch_recommendations, dispatch_executions
    query = (
        sa.select(recs.c.created_at, recs.c.ticker, recs.c.action, recs.c.status, recs.c.status_reason, recs.c.reason)
        .order_by(recs.c.created_at.desc(), recs.c.id.desc())
        .limit(10)
    )
    with CentralStore(url=url).connect() as conn:
        rows = conn.execute(query).all()
        fill_count = conn.execute(sa.select(sa.func.count()).select_from(fills)).scalar_one()
    if not rows:
        print("No trade recommendations yet.")
        return
    print(f"Latest recommendations ({fill_count} dry-run fills in all):")
    for row in reversed(rows):
        print(
            f"  {row.created_at:%Y-%m-%d %H:%M} UTC  {row.action:<4} {row.ticker:<6} {row.status}: {row.status_reason}"
        )
        print(f"      because {row.reason}")


def run_desk_sample() -> None:
    """A few sample Actant files and one TT snapshot through the desk's live path; what the dashboard reads."""
    from ops_assets.desk.processing import process_file
    from ops_assets.desk.snapshotter import take_snapshot
    from ops_assets.environments import resources_for, sample_desk_files
    from resources.cache import RedisUnavailableError

    found = resources_for("local")
    objects, cache, history = (found[k] for k in ("object_store", "desk_cache", "desk_history"))
    print("\nTrading-desk feed: sample Actant files and one TT snapshot through the live path ...", flush=True)
    try:
        cache.ping()
    except RedisUnavailableError as exc:
        print(f"  Skipped: {exc}")
        return
    for key, data in sample_desk_files():
        objects.put_bytes(key, data)
        outcome = process_file(key, objects=objects, latest=cache, history=history, arrived_at=datetime.now(UTC))
        print(f"  {key}: {outcome.outcome}" + (f" ({outcome.reason})" if outcome.reason else ""))
    snapshot = take_snapshot(
        datetime.now(UTC), source=found["working_orders"], latest=cache, history=history, objects=objects
    )
    print(f"  TT snapshot: {snapshot.outcome}, {snapshot.orders} orders -> {snapshot.key or snapshot.reason}")
    print("  The dashboard reads (redis-cli HGETALL actant:market:ZN):")
    for field, value in sorted(cache.read_market("ZN").items()):
        print(f"    {field}: {value}")
    orders = cache.read_orders()
    print(f"  tt:orders:active: {len(orders.orders)} working orders ({orders.state}), last update {orders.last_update}")


def print_forecast(day: date) -> None:
    """The champion, its walk-forward MASE against the naive forecast, and the forecasts made from ``day``."""
    store = LocalObjectStore(root=str(local_data_dir() / "object-store"))
    registry = ModelRegistry(store)
    card = registry.champion_card()
    latest = registry.card(registry.versions()[-1]) if registry.versions() else None
    print("\nForecast model registry (MASE: walk-forward MAE over the naive forecast's; below 1 beats it):")
    if latest:
        decision = next((e["kind"] for e in reversed(registry.events()) if e["version"] == latest.version), "")
        print(
            f"  latest version {latest.version} ({decision}): MASE {latest.metrics['mase']:.3f} on "
            f"{latest.evaluation_window}; the champion then {latest.metrics['champion_mase']:.3f}; "
            f"the last-close baseline {latest.metrics.get('last_close_mase', float('nan')):.3f}"
        )
    if card:
        trained = f"{card.kind}, trained to {card.data_end}"
        print(f"  champion: version {card.version} ({trained}), MASE {card.metrics['mase']:.3f}")
    else:
        print("  champion: version 0, the naive forecast (tomorrow = today), MASE 1.000 by definition")
    forecasts = frame_from_parquet(store.get_bytes(forecast_keys.predictions_key(day)))
    for row in forecasts.itertuples():
        print(
            f"  {row.ticker}: avg_price forecast for {row.target_day}: {row.forecast:.2f} (version {row.model_version})"
        )
    print(f"  report: {store.uri(forecast_keys.report_key(day))}")


if __name__ == "__main__":
    raise SystemExit(main())
