"""Claim: the working-orders snapshot keeps its 30-second cadence, without drift (goal: p95 of the gaps between
snapshot starts within 30 +/- 2 s, over 10 minutes).

For ``--minutes`` (10), two snapshotters run side by side against the sample TT server (loopback, its orders
following the wall clock), each writing its own Redis keys, bucket folder and SQLite history:

- **run_snapshots** (what the desk service runs): tick ``k`` at ``start + k * interval`` on the monotonic
  clock, skipping a mark rather than overlapping or catching up;
- **reference, a plain loop**: ``take a snapshot; sleep(interval)``, the obvious way, whose period is the
  interval *plus* each snapshot's duration and the sleep's overshoot, so it drifts.

Each prints the gaps between consecutive snapshot starts (p5/p50/p95, min/max), the drift (how far the last
start is from ``first + k * interval``), the ticks, the missed marks and the snapshot's own duration; then the
ratio of the two drifts. The goal's +/- 2 s scales with ``--interval`` (2/30 of it) for a quicker, scaled-down
run::

    .venv/bin/python benchmarks/bench_snapshot_cadence.py                           # 10 minutes, 30 s
    .venv/bin/python benchmarks/bench_snapshot_cadence.py --minutes 1 --interval 1  # scaled: 1 minute, 1 s
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops_assets.desk.snapshotter import ScheduleStats, run_snapshots, take_snapshot
from resources.cache import RedisCache
from resources.central_store import CentralStore
from resources.desk_history import CentralStoreDeskHistory
from resources.object_store import LocalObjectStore
from resources.sample_sources.tt_orders import SAMPLE_TT_CREDENTIALS_JSON, TTOrdersSampleServer
from resources.secrets import StaticSecrets
from resources.working_orders import TTWorkingOrdersSource

GOAL_INTERVAL_S = 30.0
GOAL_TOLERANCE_S = 2.0


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (linear interpolation), NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


class Recorder:
    """One snapshotter's parts and what it did: the monotonic start and duration of each snapshot."""

    def __init__(self, name: str, root: Path, server: TTOrdersSampleServer, run_id: str) -> None:
        self.name = name
        self.cache = RedisCache(key_prefix=f"bench:cadence:{run_id}:{name}:")
        self.store = CentralStore(url=f"sqlite:///{root / name / 'central.db'}")
        self.history = CentralStoreDeskHistory(store=self.store)
        self.objects = LocalObjectStore(root=str(root / name / "bucket"))
        self.source = TTWorkingOrdersSource(
            base_url=server.base_url, secrets=StaticSecrets(values={"dev/tt-api": SAMPLE_TT_CREDENTIALS_JSON})
        )
        self.starts: list[float] = []
        self.durations: list[float] = []
        self.outcomes: list[str] = []
        self.stats: ScheduleStats | None = None

    def take(self, now: datetime) -> None:
        start = time.monotonic()
        self.starts.append(start)
        outcome = take_snapshot(
            now, source=self.source, latest=self.cache, history=self.history, objects=self.objects, alert=None
        )
        self.durations.append(time.monotonic() - start)
        self.outcomes.append(outcome.outcome)

    def cleanup(self) -> None:
        client = self.cache.client()
        for key in list(client.scan_iter(match=f"{self.cache.key_prefix}*", count=1000)):
            client.delete(key)
        self.store.dispose()


def plain_loop(take: Callable[[datetime], Any], interval: float, stop: threading.Event) -> None:
    """The reference: snapshot, then sleep the interval (the period is the interval plus the work)."""
    while not stop.is_set():
        take(datetime.now(UTC))
        stop.wait(interval)


def report(recorder: Recorder, interval: float, tolerance: float) -> float:
    starts = recorder.starts
    gaps = [b - a for a, b in pairwise(starts)]
    drift = starts[-1] - starts[0] - (len(starts) - 1) * interval if len(starts) > 1 else 0.0
    print(f"\n{recorder.name}: {len(starts)} snapshots ({', '.join(sorted(set(recorder.outcomes)))})")
    if gaps:
        p5, p50, p95 = pct(gaps, 5), pct(gaps, 50), pct(gaps, 95)
        print(
            f"  gap between starts  p5 {p5:9.4f}  p50 {p50:9.4f}  p95 {p95:9.4f}  min {min(gaps):9.4f}  "
            f"max {max(gaps):9.4f} s"
        )
        met = all(abs(v - interval) <= tolerance for v in (p5, p95))
        print(f"  goal: p5 and p95 within {interval:g} +/- {tolerance:.3g} s: {'MET' if met else 'NOT MET'}")
    print(f"  drift of the last start from first + k*interval: {drift * 1000:+.1f} ms")
    print(
        f"  snapshot duration   p50 {statistics.median(recorder.durations) * 1000:7.1f}  "
        f"p95 {pct(recorder.durations, 95) * 1000:7.1f}  max {max(recorder.durations) * 1000:7.1f} ms"
    )
    if recorder.stats is not None:
        print(
            f"  schedule: {recorder.stats.ticks} ticks, {recorder.stats.missed} missed marks, {recorder.stats.errors} "
            f"errors, latest start {recorder.stats.max_late_seconds * 1000:.1f} ms after its mark"
        )
    return drift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    parser.add_argument("--interval", type=float, default=GOAL_INTERVAL_S, help="snapshot interval s (default 30)")
    args = parser.parse_args()
    interval = args.interval
    tolerance = GOAL_TOLERANCE_S * interval / GOAL_INTERVAL_S
    scaled = interval != GOAL_INTERVAL_S
    print(f"before: {load()}")
    print(
        f"{args.minutes:g} min at a {interval:g} s interval"
        + (f" (SCALED DOWN from 30 s: tolerance {tolerance:.3g} s = 2/30 of the interval)" if scaled else "")
    )

    root = Path(tempfile.mkdtemp(prefix="bench-snapshot-cadence-"))
    run_id = uuid.uuid4().hex[:10]
    stop = threading.Event()
    with TTOrdersSampleServer(clock=time.time) as server:
        scheduled = Recorder("run_snapshots", root, server, run_id)
        plain = Recorder("plain loop (reference)", root, server, run_id)
        try:
            for recorder in (scheduled, plain):  # warm up: migrations, scripts, connections (not measured)
                recorder.take(datetime.now(UTC))
                recorder.starts.clear()
                recorder.durations.clear()
                recorder.outcomes.clear()

            def scheduled_main() -> None:
                scheduled.stats = run_snapshots(scheduled.take, interval=interval, stop=stop)

            threads = [
                threading.Thread(target=scheduled_main, name="scheduled"),
                threading.Thread(target=plain_loop, args=(plain.take, interval, stop), name="plain"),
            ]
            for thread in threads:
                thread.start()
            stop.wait(args.minutes * 60)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

            drift_scheduled = report(scheduled, interval, tolerance)
            drift_plain = report(plain, interval, tolerance)
            print(
                f"\nside by side: the plain loop drifted {drift_plain * 1000:+.1f} ms, run_snapshots "
                f"{drift_scheduled * 1000:+.1f} ms"
                + (
                    f" ({abs(drift_plain) / abs(drift_scheduled):.0f}x less drift)"
                    if abs(drift_scheduled) > 1e-4
                    else ""
                )
                + f"; over a 6.75 h session at {interval:g} s the plain loop would fall "
                f"{drift_plain / max(1, len(plain.starts) - 1) * (6.75 * 3600 / interval):+.1f} s behind its marks"
            )
        finally:
            scheduled.cleanup()
            plain.cleanup()
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nafter: {load()}")


if __name__ == "__main__":
    main()
