"""run_retention_job against a real Dagster instance (PostgreSQL storage, then SQLite): which runs and event
logs remain after it ran."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.runs.schema import RunsTable

from ops_assets.housekeeping.jobs import prune_runs, run_retention_job
from ops_assets.housekeeping.retention import RetentionPolicy
from ops_assets.housekeeping.settings import HousekeepingSettings
from tests.conftest import pg_url

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgresql", "sqlite"])
def instance(request: pytest.FixtureRequest) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance on the machine's PostgreSQL (dagster-postgres storage), then on SQLite files."""
    overrides = None
    if request.param == "postgresql":
        overrides = {"storage": {"postgres": {"postgres_url": pg_url(request.getfixturevalue("pg_database"))}}}
    with dg.instance_for_test(overrides=overrides) as test_instance:
        yield test_instance


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="refreshed")])
def refreshed() -> dg.MaterializeResult:
    """Materialized (and checked) by an old run and again by a new one."""
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=True)])


@dg.asset
def rarely_built() -> int:
    """Materialized only by an old run: that run holds its latest materialization."""
    return 2


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2026-10-05", "2026-10-12"]))
def weekly() -> int:
    """Partitioned: an older week keeps its materialization in its (old) run while newer weeks are rebuilt."""
    return 1


@dg.op
def breaks() -> None:
    raise RuntimeError("the source was down")


@dg.job
def failing_job() -> None:
    breaks()


def age(instance: dg.DagsterInstance, run_id: str, days: float) -> str:
    """Backdates a run's creation (the only thing that would otherwise take a month to happen)."""
    created = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.update(RunsTable).where(RunsTable.c.run_id == run_id).values(create_timestamp=created))
    return run_id


def check_executions(instance: dg.DagsterInstance, run_id: str) -> int:
    table = AssetCheckExecutionsTable
    with instance.event_log_storage.index_connection() as conn:  # type: ignore[attr-defined]
        return conn.execute(sa.select(sa.func.count()).where(table.c.run_id == run_id)).scalar_one()


def succeeded(instance: dg.DagsterInstance, asset: dg.AssetsDefinition) -> str:
    return dg.materialize([asset], instance=instance).run_id


def failed(instance: dg.DagsterInstance) -> str:
    return failing_job.execute_in_process(instance=instance, raise_on_error=False).run_id


def in_progress(instance: dg.DagsterInstance) -> str:
    run = instance.create_run_for_job(failing_job, status=dg.DagsterRunStatus.STARTED)
    instance.report_engine_event("still working", run)
    return run.run_id


def test_the_job_deletes_old_runs_and_their_event_logs(instance: dg.DagsterInstance) -> None:
    runs = {
        "old success": age(instance, succeeded(instance, refreshed), 31),
        "old success, latest of its asset": age(instance, succeeded(instance, rarely_built), 45),
        "new success": age(instance, succeeded(instance, refreshed), 2),
        "failed 40 days ago": age(instance, failed(instance), 40),
        "failed 100 days ago": age(instance, failed(instance), 100),
        "in progress for 200 days": age(instance, in_progress(instance), 200),
    }
    for run_id in runs.values():
        assert instance.all_logs(run_id), "every run starts with a real event log"
    assert check_executions(instance, runs["old success"]) == 1
    deleted = {"old success", "failed 100 days ago"}

    result = run_retention_job.execute_in_process(
        instance=instance, resources={"housekeeping_settings": HousekeepingSettings(batch_size=2)}
    )

    assert result.success
    remaining = {r.dagster_run.run_id for r in instance.get_run_records()}
    assert remaining >= {runs[name] for name in runs.keys() - deleted}
    for name in deleted:
        assert runs[name] not in remaining, name
        assert instance.all_logs(runs[name]) == [], f"{name}: its event log is gone too"
    for name in runs.keys() - deleted:
        assert instance.all_logs(runs[name]), f"{name}: its event log stays"
    # Dagster's delete_run leaves the check executions of the run; the job deletes them too, not the latest.
    assert check_executions(instance, runs["old success"]) == 0
    assert check_executions(instance, runs["new success"]) == 1
    assert instance.get_latest_materialization_event(dg.AssetKey("refreshed")).run_id == runs["new success"]
    # The asset whose only materialization was in a kept old run still shows it.
    assert instance.get_latest_materialization_event(dg.AssetKey("rarely_built")) is not None
    step_output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    shown = {k: v.value for k, v in step_output.event_specific_data.metadata.items()}  # type: ignore[union-attr]
    assert shown["runs deleted"] == 2
    assert shown["in-progress runs kept"] == 1
    assert shown["runs kept for an asset's latest event"] == 1
    assert shown["failed runs kept (younger than the failed-run age)"] == 1


def test_the_latest_materialization_of_every_partition_is_kept(instance: dg.DagsterInstance) -> None:
    def week(partition: str, days: float) -> str:
        return age(instance, dg.materialize([weekly], instance=instance, partition_key=partition).run_id, days)

    older_week_only = week("2026-10-05", 60)
    superseded = week("2026-10-12", 50)
    latest = week("2026-10-12", 40)

    report = prune_runs(instance, RetentionPolicy())

    remaining = {r.dagster_run.run_id for r in instance.get_run_records()}
    assert older_week_only in remaining, "the only materialization of the older week stays"
    assert latest in remaining
    assert superseded not in remaining
    assert (report.deleted, report.kept_latest_asset_event) == (1, 2)
    assert instance.get_materialized_partitions(dg.AssetKey("weekly")) == {"2026-10-05", "2026-10-12"}


def test_a_second_pass_deletes_nothing_more(instance: dg.DagsterInstance) -> None:
    for _ in range(3):
        age(instance, succeeded(instance, refreshed), 60)
    succeeded(instance, refreshed)
    first = prune_runs(instance, RetentionPolicy(batch_size=1))
    second = prune_runs(instance, RetentionPolicy(batch_size=1))
    assert (first.deleted, second.deleted) == (3, 0)
    assert len(instance.get_run_records()) == 1


@pytest.mark.parametrize("config_file", ["dagster.yaml", "infra/dagster.yaml"])
def test_both_instances_purge_every_kind_of_tick(
    config_file: str, pg_database: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.definitions.run_request import InstigatorType

    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "dagster.yaml").write_text((repo / config_file).read_text())
    for key, value in {"HOST": "host", "PORT": "port", "USER": "user", "PASSWORD": "password", "DB": "db_name"}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{key}", pg_database[value] or "unused")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        for kind in (InstigatorType.SCHEDULE, InstigatorType.SENSOR, InstigatorType.AUTO_MATERIALIZE):
            days = {status.value: n for status, n in instance.get_tick_retention_settings(kind).items()}
            # -1 is Dagster's "keep forever": no kind of tick may pile up.
            assert all(n > 0 for n in days.values()), (config_file, kind, days)
            assert days["SKIPPED"] <= days["SUCCESS"] <= days["FAILURE"], (config_file, kind, days)
