"""Claim: the nightly backup of a central store holding 1 million event rows, with its verified restore, takes
well under 60 s on PostgreSQL on this machine.

A fresh PostgreSQL database, migrated by the central store, gets N rows in ``inbound_events_raw`` (title, link,
summary, JSON, timestamps: the shape the news poll writes) and 10,000 bars in ``lane_telemetry``. Then, timed per
phase:

* ours: ``take_backup`` (pg_dump --format=custom of an exported snapshot, row counts + key checksums read in that
  snapshot at the same time, sha256 of the file), ``store_backup`` (upload of the dump, .sha256 and manifest to a
  local object store laid out like the bucket), ``prune_backups``, then the restore drill ``run_drill``
  (download + sha256 check, pg_restore --jobs=2 into a scratch database, counts + key checksums compared, scratch
  database dropped);
* plain reference: the shell pipeline ``pg_dump -Fc <db> | pg_restore -d <scratch>`` with no checksum, no
  counts, no upload, no verification.

Needs the machine's PostgreSQL on 127.0.0.1:5432 (trust auth) and pg_dump/pg_restore of the server's version.

    .venv/bin/python benchmarks/bench_backup_restore.py --rows 1000000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops_assets.backups.dump import prune_backups, store_backup, take_backup
from ops_assets.backups.restore import run_drill
from resources.central_store import CentralStore
from resources.object_store import LocalObjectStore

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

FILL_EVENTS = """
INSERT INTO inbound_events_raw (event_uid, feed_name, source_url, title, link, summary, published_at, ingested_at,
                                processed_at, raw)
SELECT 'bench-' || lpad(g::text, 9, '0'),
       'feed-' || (g % 5),
       'https://feeds.example.com/feed-' || (g % 5) || '.xml',
       'Axqt Holdings beats estimates as quarterly revenue rises, item ' || g,
       'https://news.example.com/articles/' || g,
       'Shares rose after the company raised its full-year outlook and announced a buyback of ' || g || ' shares.',
       now() - g * interval '1 second',
       now(),
       CASE WHEN g % 3 = 0 THEN NULL ELSE now() END,
       jsonb_build_object('guid', 'bench-' || g, 'feed', g % 5)
FROM generate_series(1, {rows}) AS g
"""

FILL_BARS = """
INSERT INTO lane_telemetry (ticker, ts, open, high, low, close, volume, source, ingested_at)
SELECT 'T' || (g % 10), timestamp with time zone '2026-01-01 00:00Z' + (g / 10) * interval '5 minutes',
       100, 101, 99, 100.5, 1000 + g, 'bench', now()
FROM generate_series(0, 9999) AS g
"""


def admin(sql: str) -> None:
    conn = psycopg2.connect(ADMIN_DSN)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2, help="pg_restore --jobs in the drill")
    args = parser.parse_args()
    name = f"bench_backup_{uuid.uuid4().hex[:8]}"
    scratch = f"{name}_plain"
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    admin(f'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    store = CentralStore(url=url)
    try:
        store.ensure_schema()
        started = time.perf_counter()
        conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
        with conn, conn.cursor() as cursor:
            cursor.execute(FILL_EVENTS.format(rows=int(args.rows)))
            cursor.execute(FILL_BARS)
            cursor.execute("ANALYZE")
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = cursor.fetchone()[0]
        conn.close()
        print(f"filled {args.rows:,} events + 10,000 bars in {time.perf_counter() - started:.1f} s; database {size}")

        objects = LocalObjectStore(root=str(workdir / "object-store"))
        phases: dict[str, float] = {}
        t0 = time.perf_counter()
        local = take_backup(url, store, workdir, date(2026, 11, 29), datetime.now(UTC))
        phases["dump + counts/checksums (same snapshot) + sha256"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        store_backup(objects, local)
        phases["upload (dump, .sha256, manifest)"] = time.perf_counter() - t1
        local.path.unlink()
        t2 = time.perf_counter()
        prune_backups(objects, keep=7)
        phases["prune"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        report = run_drill(objects, url, workdir=workdir, jobs=args.jobs)
        drill_total = time.perf_counter() - t3
        if not report.passed:
            raise SystemExit(f"the drill failed: {report.problems}")
        for phase, seconds in report.seconds.items():
            phases[f"drill: {phase.replace('_', ' ')}"] = seconds
        phases["drill: create/drop scratch db, other"] = drill_total - sum(report.seconds.values())
        ours = time.perf_counter() - t0

        admin(f'CREATE DATABASE "{scratch}"')
        t4 = time.perf_counter()
        pipeline = (
            f"pg_dump -Fc -h 127.0.0.1 -U postgres {name} | "
            f"pg_restore --no-owner --no-privileges -h 127.0.0.1 -U postgres -d {scratch}"
        )
        subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True)
        plain = time.perf_counter() - t4

        print(f"\ndump {local.manifest.size_bytes / 1e6:.1f} MB, {local.manifest.total_rows:,} rows in the manifest")
        print(f"{'phase (ours)':<52} {'seconds':>8}")
        for phase, seconds in phases.items():
            print(f"{phase:<52} {seconds:>8.2f}")
        print(f"{'total: backup + verified restore (ours)':<52} {ours:>8.2f}")
        print(f"{'plain reference: pg_dump -Fc | pg_restore':<52} {plain:>8.2f}")
        print(f"ours / plain: {ours / plain:.2f}x; goal 60 s: {'met' if ours < 60 else 'NOT met'}")
    finally:
        store.dispose()
        admin(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
