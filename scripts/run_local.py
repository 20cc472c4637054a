"""`make run`: this week's fundamentals and one event-pipeline tick on the embedded default; then where things are.

One line per step and a summary; Dagster's full event log of each run stays in the instance (the UI's run page)
and in ``$DAGSTER_HOME/make_run.log``. ``--verbose`` (``make run VERBOSE=1``) prints that event log as it happens.
"""

from __future__ import annotations

import argparse
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


def event_log_path() -> Path:
    """Where the quiet `make run` writes Dagster's console event log (and Python's own output) of its runs."""
    return Path(os.environ.get("DAGSTER_HOME") or ".dagster_home") / "make_run.log"


def materialize(number: str, title: str, partition: str | None, selection: str, verbose: bool) -> int:
    """One materialization of ``selection`` for ``partition`` (a run of the UI's code location); its exit code."""
    print(f"\n[{number}] {title}", flush=True)
    command = materialize_command(partition, sys.executable, selection)
    if verbose:
        result = subprocess.run(command, check=False)
    else:
        log = event_log_path()
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as stderr:
            stderr.write(f"\n==== [{number}] {title}\n")
            stderr.flush()
            result = subprocess.run(command, stderr=stderr, check=False)
    if result.returncode != 0:
        print(f"[{number}] failed (exit {result.returncode}).", file=sys.stderr)
        if not verbose:
            tail = event_log_path().read_text(errors="replace").splitlines()[-40:]
            print("\n".join(["The end of its event log:", *tail]), file=sys.stderr)
            print(f"Full log: {event_log_path()} (or run again with make run VERBOSE=1)", file=sys.stderr)
    return result.returncode


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="make run: the sample pipeline end to end, one line per step.")
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=os.environ.get("VERBOSE", "").lower() in ("1", "true", "yes"),
        help="print Dagster's full event log of every run (also VERBOSE=1)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.verbose:
        event_log_path().unlink(missing_ok=True)
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
    for number, (title, key, selection) in enumerate(steps, start=1):
        if code := materialize(f"{number}/{len(steps)}", title, key, selection, args.verbose):
            return code
    if forecast_day:
        print_forecast(forecast_day)
    if os.environ.get("OPS_ENV", "local") == "local":
        run_desk_sample()
    if os.environ.get("OPS_ENV", "local") == "local":
        print()
        print_trades(f"sqlite:///{local_data_dir() / 'central_store.db'}")
    print_summary(len(steps), partition, verbose=args.verbose)
    return 0


def print_summary(runs: int, partition: str, verbose: bool) -> None:
    """What was built, where it is, and what the UI shows next."""
    print("\nSummary")
    print(f"  Built: {runs} Dagster runs (this week's fundamentals, the event pipeline, the forecast), all succeeded")
    if os.environ.get("OPS_ENV", "local") == "local":
        artifact = local_data_dir() / "object-store" / keys.artifact_key(partition_date(partition))
        print(f"  Artifact: {artifact}")
        print(f"  Object store (laid out like the S3 bucket): {Path(local_data_dir()) / 'object-store'}")
        print(f"  Central store (SQLite): {local_data_dir() / 'central_store.db'}")
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home")
    print(f"  Dagster instance (runs, event logs): {home}")
    if not verbose:
        print(f"  Event log of these runs: {event_log_path()} (make run VERBOSE=1 prints it as it happens)")
    print(
        "  Next: make ui, then http://127.0.0.1:3000: Runs lists these runs under the code location ops_assets"
        " (open one for its event log; Re-execute works), Assets shows what they built"
    )


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
    print("\nTrading-desk feed: sample Actant files and one TT snapshot through the live path", flush=True)
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
    raise SystemExit(main(sys.argv[1:]))
