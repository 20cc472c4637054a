"""Claim: one minutely tick end to end (ingest -> classify -> recommend, Dagster's run start included) on the
local default takes well under 60 s, so ticks never overlap.

In a temporary directory (``OPS_DATA_DIR`` and ``DAGSTER_HOME`` there, ``DAGSTER_HOME`` holding a copy of the
repo's ``dagster.yaml``, no ``ALPHA_VANTAGE_*`` / ``OPS_*`` settings, so the bundled offline sample feeds and
Alpha Vantage sample server are used), runs N times the exact command a schedule tick amounts to::

    dagster asset materialize -m ops_assets.definitions --select "<EVENT_PIPELINE>" --partition <today>

and times each whole process (interpreter start, imports, code location load, run start, the five assets of
news/markets/signals, run end). Run 1 starts from empty databases (Dagster's and the central store's
migrations, every feed item new); later runs are the steady state (no new items). The ``feeds`` column shows
what raw_news_events saw: in one process the sample feeds answer 304 Not Modified; each CLI process starts its
own sample feed server on a new port, so the stored ETags belong to another URL and the feeds come back in full.

Side by side, the plain reference: the same five assets materialized in this process with
``dagster.materialize(...)`` and ``local_resources()`` (its own empty data dir, Dagster's default ephemeral
instance), i.e. the assets' own work without a process or code location start. The ratio CLI / in-process is
what the process and run start cost; the share of the minute is the margin against the 60 s cadence.

    .venv/bin/python benchmarks/bench_event_tick.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg

from ops_assets.cli import EVENT_PIPELINE, materialize_command
from ops_assets.partitions import daily_partitions

REPO_ROOT = Path(__file__).resolve().parents[1]
CADENCE_S = 60.0
STRIPPED_PREFIXES = ("ALPHA_VANTAGE_", "OPS_", "DAGSTER_")


def clean_env(data_dir: Path, dagster_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_PREFIXES)}
    env.update(OPS_DATA_DIR=str(data_dir), DAGSTER_HOME=str(dagster_home))
    return env


def feed_statuses(metadata: dict) -> str:
    """'ok:N not_modified:M new:K' from raw_news_events' ``feeds`` and ``new_items`` metadata."""
    feeds = metadata["feeds"].value if "feeds" in metadata else {}
    counts = Counter(f["status"] for f in feeds.values())
    new = metadata["new_items"].value if "new_items" in metadata else "?"
    return " ".join(f"{status}:{n}" for status, n in sorted(counts.items())) + f" new:{new}"


def cli_runs(root: Path, partition: str, runs: int) -> list[tuple[float, str]]:
    data_dir, home = root / "cli-data", root / "cli-dagster-home"
    data_dir.mkdir()
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = clean_env(data_dir, home)
    command = materialize_command(partition, sys.executable, EVENT_PIPELINE)
    results = []
    for i in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(f"CLI run {i + 1} failed (exit {proc.returncode}).")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey("raw_news_events"))
            feeds = feed_statuses(event.asset_materialization.metadata) if event else "?"
        results.append((elapsed, feeds))
    return results


def in_process_runs(root: Path, partition: str, runs: int) -> list[tuple[float, str]]:
    data_dir = root / "inproc-data"
    data_dir.mkdir()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_env(data_dir, root / "unused-dagster-home"))
    try:
        from ops_assets.environments import local_resources
        from ops_assets.markets.assets import markets_assets
        from ops_assets.news.assets import news_assets
        from ops_assets.signals.assets import signals_assets

        assets = [*news_assets, *markets_assets, *signals_assets]
        results = []
        for i in range(runs):
            start = time.perf_counter()
            result = dg.materialize(assets, partition_key=partition, resources=local_resources())
            elapsed = time.perf_counter() - start
            if not result.success:
                raise SystemExit(f"In-process run {i + 1} failed.")
            materializations = result.asset_materializations_for_node("raw_news_events")
            results.append((elapsed, feed_statuses(materializations[-1].metadata)))
        return results
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    partition = daily_partitions.get_last_partition_key()
    assert partition is not None

    with tempfile.TemporaryDirectory(prefix="bench_event_tick_") as tmp:
        cli = cli_runs(Path(tmp), partition, args.runs)
        plain = in_process_runs(Path(tmp), partition, args.runs)

    print(f"partition {partition}, selection {EVENT_PIPELINE!r}, {args.runs} runs each, cadence {CADENCE_S:.0f} s")
    print(f"{'run':<5} {'CLI s':>7} {'in-proc s':>9} {'ratio':>6} {'CLI % of min':>12}  feeds: CLI | in-proc")
    for i, ((c, c_feeds), (p, p_feeds)) in enumerate(zip(cli, plain, strict=True), start=1):
        print(f"{i:<5} {c:>7.2f} {p:>9.2f} {c / p:>6.1f} {100 * c / CADENCE_S:>11.1f}%  {c_feeds} | {p_feeds}")
    c_med = statistics.median(t for t, _ in cli)
    p_med = statistics.median(t for t, _ in plain)
    print(f"{'med':<5} {c_med:>7.2f} {p_med:>9.2f} {c_med / p_med:>6.1f} {100 * c_med / CADENCE_S:>11.1f}%")
    if len(cli) > 1:
        steady = statistics.median(t for t, _ in cli[1:])
        steady_plain = statistics.median(t for t, _ in plain[1:])
        print(
            f"steady state (runs 2..{len(cli)}): CLI median {steady:.2f} s = {100 * steady / CADENCE_S:.1f}% of the "
            f"minute, {CADENCE_S - steady:.1f} s to spare; in-process median {steady_plain:.2f} s; "
            f"start overhead {steady - steady_plain:.2f} s"
        )
    worst = max(t for t, _ in cli)
    print(
        f"slowest CLI tick {worst:.2f} s = {100 * worst / CADENCE_S:.1f}% of the minute, "
        f"{CADENCE_S - worst:.1f} s to spare"
    )


if __name__ == "__main__":
    main()
