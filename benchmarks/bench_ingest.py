"""Claim: the bulk upsert stores news events into PostgreSQL many times faster than one INSERT per row.

Both write the same N synthetic raw events into ``inbound_events_raw`` of a fresh PostgreSQL database
(migrated by the central store), in one transaction each:

* bulk (ours): ``CentralStore.upsert`` — ``INSERT ... ON CONFLICT (event_uid) DO NOTHING``, 1,000 rows per
  statement;
* plain reference: one ``INSERT ... ON CONFLICT DO NOTHING`` statement per row on the same connection.

A second pass of the bulk path over the same rows (all duplicates) shows the cost of a poll that finds
nothing new. Needs the machine's PostgreSQL on 127.0.0.1:5432 (trust auth).

    .venv/bin/python benchmarks/bench_ingest.py --rows 20000
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resources.central_schema import inbound_events_raw
from resources.central_store import CentralStore

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def rows(n: int, prefix: str) -> list[dict]:
    now = datetime.now(UTC)
    return [
        {
            "event_uid": f"{prefix}-{i:08d}",
            "feed_name": "bench",
            "source_url": "http://127.0.0.1/feed.xml",
            "title": f"Axqt Holdings beats estimates, item {i}",
            "link": f"http://127.0.0.1/news/{i}",
            "summary": "Shares rose after the company raised its outlook.",
            "published_at": now,
            "ingested_at": now,
            "processed_at": None,
            "raw": {"id": str(i)},
        }
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        store = CentralStore(url=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")
        store.ensure_schema()
        bulk_rows, plain_rows = rows(args.rows, "bulk"), rows(args.rows, "plain")

        started = time.perf_counter()
        inserted = store.upsert(inbound_events_raw, bulk_rows, key=["event_uid"])
        bulk = time.perf_counter() - started

        started = time.perf_counter()
        again = store.upsert(inbound_events_raw, bulk_rows, key=["event_uid"])
        duplicates = time.perf_counter() - started

        statement = postgresql.insert(inbound_events_raw).on_conflict_do_nothing(index_elements=["event_uid"])
        started = time.perf_counter()
        with store.begin() as conn:
            for row in plain_rows:
                conn.execute(statement, row)
        plain = time.perf_counter() - started

        with store.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(inbound_events_raw)).scalar_one()
        store.dispose()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    n = args.rows
    print(f"{n} events into PostgreSQL inbound_events_raw, one transaction each; {total} rows stored in all")
    print(f"{'path':<34} {'seconds':>8} {'events/s':>10}")
    print(f"{'bulk upsert (ours), new rows':<34} {bulk:>8.2f} {n / bulk:>10.0f}   inserted {inserted}")
    print(f"{'bulk upsert, all duplicates':<34} {duplicates:>8.2f} {n / duplicates:>10.0f}   inserted {again}")
    print(f"{'one INSERT per row (reference)':<34} {plain:>8.2f} {n / plain:>10.0f}")
    print(f"ratio bulk / per-row: {plain / bulk:.1f}x faster")


if __name__ == "__main__":
    main()
