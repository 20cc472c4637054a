"""Claim: without retention the Dagster database grows by every day's runs and the UI's Runs page slows with it;
run_retention_job brings both back to a bounded window, at a cost comparable to a plain SQL DELETE.

On the machine's PostgreSQL (a fresh database, Dagster's own dagster-postgres schema), builds ``--days`` of run
history shaped like our minutely and 5-minutely event-pipeline jobs:

- two template runs are executed for real (in-process, with the same step / asset / check / log shape as the
  minutely news-markets-signals tick, 5 assets + 5 checks, and the 5-minutely markets replay, 3 + 3), so their
  runs, run_tags and event_logs rows are Dagster's own;
- they are cloned server-side (INSERT ... SELECT) to ``--runs-per-day`` runs a day (minutely : 5-minutely =
  1440 : 288, ~1% failed), each clone with its own run id and timestamps.

Then measures, before and after pruning at the default policy (30 days; failed runs 90):

- storage: pg_total_relation_size of runs, run_tags, event_logs (rows and bytes), and the database;
- the Runs page: the calls the webserver's runs feed makes (runs and backfills, 26 each, roots only, and the
  counts), median of ``--repeats``;
- the pruning itself: ``prune_runs`` with pooled connections (what run_retention_job runs:
  DagsterInstance.delete_run per run, batches of 500) against the plain reference, three SQL DELETEs of the same
  runs on an identical copy of the database (CREATE DATABASE ... TEMPLATE).

The default (85 runs a day, 1/20 of production's ~1,700) keeps the run to a few minutes on a shared 2-core
machine; bytes per day and deletion time scale linearly with runs (each run is the same rows), which is how
docs/OPERATIONS.md extrapolates to 1,700 a day (stated there).

    .venv/bin/python benchmarks/bench_run_retention.py [--days 45] [--runs-per-day 85]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg
import psycopg2

from ops_assets.housekeeping.jobs import pool_connections, prune_runs
from ops_assets.housekeeping.retention import RetentionPolicy

PG_DSN = os.environ.get("OPS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = ("runs", "run_tags", "event_logs", "asset_event_tags")
MINUTELY_SHARE = 1440 / (1440 + 288)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def template_job(name: str, assets: int) -> dg.Definitions:
    """``assets`` assets in a chain, each with one check, one log line and metadata like our event-pipeline
    assets (counts, a few text fields, a small markdown table)."""
    specs = []
    for i in range(assets):
        deps = [f"{name}_{i - 1}"] if i else []

        @dg.asset(name=f"{name}_{i}", deps=deps, check_specs=[dg.AssetCheckSpec("ok", asset=f"{name}_{i}")])
        def _asset(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
            context.log.info(f"{context.asset_key.to_user_string()}: 42 new rows, 3 feeds healthy")
            table = "\n".join(["| ticker | rows | status |", "|---|---|---|"])
            table += "".join(f"\n| T{j:03d} | {j * 7} | ok |" for j in range(12))
            yield dg.MaterializeResult(
                metadata={
                    "rows": 42,
                    "new_items": 7,
                    "feeds": {"sample_a": {"status": "ok", "items": 10}, "sample_b": {"status": "not_modified"}},
                    "summary": dg.MetadataValue.md(table),
                    "backend": "lexicon",
                },
                check_results=[dg.AssetCheckResult(passed=True, metadata={"checked_rows": 42})],
            )

        specs.append(_asset)
    return dg.Definitions(assets=specs, executor=dg.in_process_executor)


@contextmanager
def database(name: str) -> Iterator[str]:
    admin = psycopg2.connect(PG_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def pg(name: str) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(PG_DSN.rsplit("/", 1)[0] + f"/{name}")
    conn.autocommit = True
    return conn


def columns(cur: psycopg2.extensions.cursor, table: str) -> list[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id' "
        "ORDER BY ordinal_position",
        (table,),
    )
    return [row[0] for row in cur.fetchall()]


def clone(
    cur: psycopg2.extensions.cursor, template_run: str, per_day: int, days: int, now: datetime, with_events: bool = True
) -> int:
    """``per_day`` copies a day of ``template_run`` over ``days`` days up to ``now`` (~1% FAILURE)."""
    step = timedelta(seconds=86400 / per_day)
    cur.execute("DROP TABLE IF EXISTS clones")
    cur.execute(
        "CREATE TEMP TABLE clones AS SELECT gen_random_uuid()::text AS run_id, ts, "
        "CASE WHEN random() < 0.01 THEN 'FAILURE' ELSE 'SUCCESS' END AS status "
        "FROM generate_series(%s::timestamp, %s::timestamp, %s::interval) AS ts",
        ((now - timedelta(days=days)).replace(tzinfo=None), now.replace(tzinfo=None) - step, step),
    )
    run_cols = [c for c in columns(cur, "runs")]
    exprs = {
        "run_id": "c.run_id",
        "run_body": "replace(replace(r.run_body, %(t)s, c.run_id), 'DagsterRunStatus.SUCCESS', "
        "'DagsterRunStatus.' || c.status)",
        "status": "c.status",
        "create_timestamp": "c.ts",
        "update_timestamp": "c.ts + interval '20 seconds'",
        "start_time": "extract(epoch from c.ts)",
        "end_time": "extract(epoch from c.ts) + 20",
    }
    select = ", ".join(exprs.get(col, f"r.{col}") for col in run_cols)
    cur.execute(
        f"INSERT INTO runs ({', '.join(run_cols)}) SELECT {select} FROM clones c, runs r WHERE r.run_id = %(t)s",
        {"t": template_run},
    )
    cur.execute(
        "INSERT INTO run_tags (run_id, key, value) SELECT c.run_id, t.key, t.value FROM clones c, run_tags t "
        "WHERE t.run_id = %(t)s",
        {"t": template_run},
    )
    cur.execute("SELECT count(*) FROM clones")
    made = cur.fetchone()[0]
    if not with_events:
        return made
    event_cols = columns(cur, "event_logs")
    exprs = {
        "run_id": "c.run_id",
        "event": "replace(e.event, %(t)s, c.run_id)",
        "timestamp": "c.ts + (e.timestamp - (SELECT min(timestamp) FROM event_logs WHERE run_id = %(t)s))",
    }
    select = ", ".join(exprs.get(col, f"e.{col}") for col in event_cols)
    cur.execute(
        f"INSERT INTO event_logs ({', '.join(event_cols)}) SELECT {select} FROM clones c, event_logs e "
        "WHERE e.run_id = %(t)s",
        {"t": template_run},
    )
    return made


def storage(name: str) -> dict[str, tuple[int, int]]:
    """Rows and bytes (pg_total_relation_size: table, indexes, TOAST) of Dagster's run tables; 'database' too."""
    with closing(pg(name)) as conn, conn.cursor() as cur:
        found = {}
        for table in TABLES:
            cur.execute(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")
            found[table] = cur.fetchone()
        cur.execute("SELECT pg_database_size(current_database())")
        found["database"] = (0, cur.fetchone()[0])
    return found


def runs_page(instance: dg.DagsterInstance) -> None:
    """What the webserver's runs feed asks the instance for one Runs page (roots view, 25 a page + 1)."""
    roots = dg.RunsFilter(exclude_subruns=True)
    instance.get_run_records(filters=roots, limit=26)
    instance.get_backfills(limit=26)
    instance.get_runs_count(roots)
    instance.get_backfills_count()


def page_ms(home: str, repeats: int) -> float:
    """Median time of one Runs page on an instance set up as dagster-webserver sets its own (pooled engine)."""
    from dagster_webserver.cli import DEFAULT_DB_STATEMENT_TIMEOUT, DEFAULT_POOL_MAX_OVERFLOW, DEFAULT_POOL_RECYCLE

    with dg.DagsterInstance.from_config(home) as instance:
        instance.optimize_for_webserver(DEFAULT_DB_STATEMENT_TIMEOUT, DEFAULT_POOL_RECYCLE, DEFAULT_POOL_MAX_OVERFLOW)
        return median_ms(lambda: runs_page(instance), repeats)


def median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm caches and connections
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def reference_delete(name: str, now: datetime, policy: RetentionPolicy) -> float:
    """The plain reference: the same runs deleted with three SQL statements (no asset-latest protection)."""
    doomed = (
        "SELECT run_id FROM runs WHERE (status IN ('SUCCESS', 'CANCELED') AND create_timestamp < %(young)s) "
        "OR (status = 'FAILURE' AND create_timestamp < %(old)s)"
    )
    params = {
        "young": (now - timedelta(days=policy.max_age_days)).replace(tzinfo=None),
        "old": (now - timedelta(days=policy.failed_max_age_days)).replace(tzinfo=None),
    }
    started = time.perf_counter()
    with closing(pg(name)) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE doomed AS {doomed}", params)
        cur.execute("DELETE FROM event_logs WHERE run_id IN (SELECT run_id FROM doomed)")
        cur.execute("DELETE FROM run_tags WHERE run_id IN (SELECT run_id FROM doomed)")
        cur.execute("DELETE FROM runs WHERE run_id IN (SELECT run_id FROM doomed)")
    return time.perf_counter() - started


def runs_page_at_scale(args: argparse.Namespace, now: datetime, policy: RetentionPolicy) -> None:
    """The Runs page against production's run count: runs and run_tags only (the page reads no event log) at
    1,700 runs a day, ``--unpruned-days`` of them, then pruned to the policy (SQL, then VACUUM ANALYZE as
    autovacuum would)."""
    name = f"bench_runs_page_{uuid.uuid4().hex[:8]}"
    with database(name) as url, tempfile.TemporaryDirectory() as home:
        (Path(home) / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {url}\n")
        with dg.DagsterInstance.from_config(home) as instance:
            defs = template_job("minutely", 5)
            tags = {"dagster/schedule_name": "minutely_schedule", "dagster/partition": now.date().isoformat()}
            tags |= {"dagster/code_location": "ops_assets", "ops/launch": "inline"}
            job = defs.resolve_implicit_global_asset_job_def()
            template = job.execute_in_process(instance=instance, run_config=QUIET, tags=tags).run_id
        with closing(pg(name)) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM event_logs")  # the page reads runs and tags only
            made = clone(cur, template, 1700, args.unpruned_days, now, with_events=False)
            cur.execute("DELETE FROM runs WHERE run_id = %s", (template,))
            cur.execute("VACUUM ANALYZE")
        rows = storage(name)["runs"][0]
        before = page_ms(home, args.repeats)
        reference_delete(name, now, policy)
        with closing(pg(name)) as conn, conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        after_rows = storage(name)["runs"][0]
        after = page_ms(home, args.repeats)
    print(
        f"\nRuns page at 1,700 runs/day (runs feed: 26 roots + backfills + their counts, the webserver's pooled "
        f"engine), median of {args.repeats}: {before:.1f} ms with {args.unpruned_days} days unpruned ({made:,} "
        f"runs; {rows:,} in the table), {after:.1f} ms after pruning to {policy.max_age_days} days "
        f"({after_rows:,} runs)"
    )


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=45, help="days of history (more than the 30 kept)")
    parser.add_argument("--runs-per-day", type=int, default=85, help="production: ~1,700")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--unpruned-days", type=int, default=180, help="the Runs page: days of runs before pruning")
    args = parser.parse_args()
    policy = RetentionPolicy()
    now = datetime.now(UTC)
    name = f"bench_retention_{uuid.uuid4().hex[:8]}"
    with database(name) as url, tempfile.TemporaryDirectory() as home:
        (Path(home) / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {url}\n")
        with dg.DagsterInstance.from_config(home) as instance:
            templates = []
            for job_name, assets in (("minutely", 5), ("five_minutely", 3)):
                defs = template_job(job_name, assets)
                job = defs.resolve_implicit_global_asset_job_def()
                tags = {"dagster/schedule_name": f"{job_name}_schedule", "dagster/partition": now.date().isoformat()}
                tags |= {"dagster/code_location": "ops_assets", "ops/launch": "inline"}
                result = job.execute_in_process(instance=instance, run_config=QUIET, tags=tags)
                templates.append(result.run_id)
            events = [len(instance.all_logs(run_id)) for run_id in templates]
        started = time.perf_counter()
        with closing(pg(name)) as conn, conn.cursor() as cur:
            minutely = round(args.runs_per_day * MINUTELY_SHARE)
            made = clone(cur, templates[0], minutely, args.days, now)
            made += clone(cur, templates[1], args.runs_per_day - minutely, args.days, now)
            cur.execute("VACUUM ANALYZE")
        with dg.DagsterInstance.from_config(home) as instance:
            for run_id in templates:  # only their copies stay
                instance.delete_run(run_id)
        print(
            f"History: {made:,} runs over {args.days} days ({args.runs_per_day}/day; events per run: minutely "
            f"{events[0]}, 5-minutely {events[1]}), built in {time.perf_counter() - started:.0f} s"
        )
        before = storage(name)
        run_bytes = sum(before[t][1] for t in TABLES)
        per_day = run_bytes / args.days
        print(
            f"Growth: {mb(per_day)}/day at {args.runs_per_day} runs/day = {per_day / args.runs_per_day / 1e3:.1f} kB "
            f"per run -> {mb(per_day * 1700 / args.runs_per_day)}/day at 1,700 runs/day (linear, extrapolated)"
        )
        admin = psycopg2.connect(PG_DSN)
        admin.autocommit = True
        reference_db = f"{name}_ref"
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{reference_db}" TEMPLATE "{name}"')
        try:
            with dg.DagsterInstance.from_config(home) as instance:
                pool_connections(instance)  # as run_retention_job does
                started = time.perf_counter()
                report = prune_runs(instance, policy, now=now)
                prune_s = time.perf_counter() - started
            after = storage(name)
            with closing(pg(name)) as conn, conn.cursor() as cur:
                cur.execute("VACUUM FULL ANALYZE")
            compacted = storage(name)
            reference_s = reference_delete(reference_db, now, policy)
            reference = storage(reference_db)
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{reference_db}" WITH (FORCE)')
            admin.close()

    print(f"\nPruned (max age {policy.max_age_days} d, failed {policy.failed_max_age_days} d): {report.deleted:,} runs")
    print(f"{'':<18}{'before':>22}{'after prune_runs':>22}{'after VACUUM FULL':>22}{'after SQL reference':>22}")
    for table in (*TABLES, "database"):
        cells = []
        for found in (before, after, compacted, reference):
            rows, size = found[table]
            cells.append(f"{rows:>9,} {mb(size):>11}" if table != "database" else f"{mb(size):>21}")
        print(f"{table:<18}" + "".join(f"{c:>22}" for c in cells))
    runs_page_at_scale(args, now=now, policy=policy)
    print(
        f"Deleting {report.deleted:,} runs: prune_runs {prune_s:.1f} s ({prune_s / max(report.deleted, 1) * 1e3:.1f} "
        f"ms/run, {report.batches} batches); plain SQL DELETE {reference_s:.1f} s "
        f"({prune_s / reference_s:.1f}x); at 1,700 runs/day one day's deletions take "
        f"~{prune_s / max(report.deleted, 1) * 1700:.0f} s with prune_runs (extrapolated)"
    )


if __name__ == "__main__":
    main()
