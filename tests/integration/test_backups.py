"""Backups end to end on the machine's PostgreSQL and on SQLite: backup, manifest, restore drill, reruns, pruning,
and the failures an operator must be told about clearly (corrupt dump, pg_dump missing, database or object store
down). Real pg_dump / pg_restore, real databases, a local object store laid out like the bucket; no mocks.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import pytest
import sqlalchemy as sa

from ops_assets.backups.assets import central_store_backup
from ops_assets.backups.checks import restore_drill
from ops_assets.backups.dump import BackupError, StoredBackup, backup_central_store, store_backup, take_backup
from ops_assets.backups.manifest import PREFIX, Manifest, complete_days, day_prefix, manifest_key
from ops_assets.backups.restore import SCRATCH_PREFIX, DrillFailure, run_drill, scratch_postgres
from ops_assets.backups.settings import BackupSettings
from resources.central_schema import feed_state, inbound_events_raw, lane_telemetry
from resources.central_store import CentralStore
from resources.notifier import LocalOutboxNotifier, read_outbox
from resources.object_store import LocalObjectStore
from tests.conftest import PG_DSN, free_port, pg_url

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def seed(store: CentralStore, events: int = 250) -> None:
    store.upsert(
        inbound_events_raw,
        [
            {
                "event_uid": f"uid-{i:05d}",
                "feed_name": "sample",
                "source_url": "sample://wire",
                "title": f"Item {i}",
                "link": None,
                "summary": None,
                "published_at": NOW,
                "ingested_at": NOW,
                "processed_at": None,
                "raw": {"i": i},
            }
            for i in range(events)
        ],
        key=["event_uid"],
    )
    store.upsert(
        lane_telemetry,
        [
            {
                "ticker": t,
                "ts": NOW + timedelta(minutes=5 * i),
                "open": 1.0,
                "high": 2.0,
                "low": 0.5,
                "close": 1.5,
                "volume": 10.0,
                "source": "test",
                "ingested_at": NOW,
            }
            for t in ("AXQT", "FJRX")
            for i in range(12)
        ],
        key=["ticker", "ts"],
    )
    store.upsert(feed_state, [{"feed_name": "sample", "url": "sample://wire"}], key=["feed_name"])


@pytest.fixture
def objects(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(root=str(tmp_path / "object-store"))


@pytest.fixture
def seeded(store: CentralStore) -> Iterator[CentralStore]:
    seed(store)
    return store


def today() -> date:
    return datetime.now(UTC).date()


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def scratch_databases() -> set[str]:
    with psycopg2.connect(PG_DSN) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (SCRATCH_PREFIX + "%",))
        return {row[0] for row in cursor.fetchall()}


# ------------------------------------------------------------------------------------- backup and the drill


def test_backup_writes_dump_checksum_and_manifest_and_the_drill_passes(
    seeded: CentralStore, objects: LocalObjectStore, store_url: str
) -> None:
    before = scratch_databases() if store_url.startswith("postgresql") else set()
    stored, pruned = backup_central_store(store_url, objects, day=date(2026, 11, 20), keep=7, source=seeded)
    assert pruned == []
    manifest = Manifest.from_bytes(objects.get_bytes(manifest_key(date(2026, 11, 20))))
    assert manifest == stored.manifest
    assert manifest.engine == store_url.split(":")[0].split("+")[0]
    assert manifest.tables["inbound_events_raw"].rows == 250
    assert manifest.tables["inbound_events_raw"].key_columns == ("event_uid",)
    assert manifest.tables["lane_telemetry"].rows == 24
    assert manifest.tables["lane_telemetry"].key_columns == ("ticker", "ts")
    assert manifest.tables["feed_state"].rows == 1
    folder = Path(objects.root) / day_prefix(date(2026, 11, 20))
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [manifest.dump_file, manifest.dump_file + ".sha256", "manifest.json"]
    )
    # The .sha256 beside the dump is what `sha256sum -c` reads (Restore by hand).
    check = subprocess.run(["sha256sum", "-c", manifest.dump_file + ".sha256"], cwd=folder, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr

    report = run_drill(objects, store_url)
    assert report.passed, report.problems
    assert report.day == "2026-11-20"
    assert report.tables_checked == len(manifest.tables)
    assert report.rows_checked == manifest.total_rows
    if store_url.startswith("postgresql"):
        assert report.scratch_database
        assert report.scratch_database.startswith(SCRATCH_PREFIX)
        assert scratch_databases() == before  # dropped again


def test_the_counts_are_taken_in_the_dumps_snapshot(seeded: CentralStore, tmp_path: Path, store_url: str) -> None:
    """What the manifest counts is what the dump holds, even with writers between the two reads."""
    local = take_backup(store_url, seeded, tmp_path, date(2026, 11, 20), datetime.now(UTC))
    seed_more = [
        {
            "event_uid": f"late-{i}",
            "feed_name": "sample",
            "source_url": "sample://wire",
            "title": "late",
            "ingested_at": NOW,
        }
        for i in range(7)
    ]
    seeded.upsert(inbound_events_raw, seed_more, key=["event_uid"])
    with seeded.connect() as conn:
        now_rows = conn.execute(sa.select(sa.func.count()).select_from(inbound_events_raw)).scalar_one()
    assert now_rows == 257
    assert local.manifest.tables["inbound_events_raw"].rows == 250


def test_a_rerun_of_the_day_replaces_its_backup(
    seeded: CentralStore, objects: LocalObjectStore, store_url: str
) -> None:
    day = date(2026, 11, 20)
    first, _ = backup_central_store(store_url, objects, day=day, keep=7, source=seeded)
    seeded.upsert(
        inbound_events_raw,
        [{"event_uid": "new", "feed_name": "f", "source_url": "u", "title": "t", "ingested_at": NOW}],
        key=["event_uid"],
    )
    second, _ = backup_central_store(store_url, objects, day=day, keep=7, source=seeded)
    assert second.dump_key != first.dump_key
    assert sorted(second.replaced) == sorted([first.dump_key, first.dump_key + ".sha256"])
    keys = sorted(info.key for info in objects.list(PREFIX))
    assert keys == sorted([second.dump_key, second.dump_key + ".sha256", manifest_key(day)])
    assert Manifest.from_bytes(objects.get_bytes(manifest_key(day))).tables["inbound_events_raw"].rows == 251
    assert run_drill(objects, store_url).passed


class UploadsAnotherRunFirst:
    """An object store through which, just after this run uploaded its dump, another run of the same day stores
    its whole backup: two overlapping runs of the day, interleaved."""

    def __init__(self, objects: LocalObjectStore, other: Callable[[], StoredBackup]) -> None:
        self._objects, self._other = objects, other
        self.other: StoredBackup | None = None

    def upload_file(self, path: Path, key: str) -> None:
        self._objects.upload_file(path, key)
        self.other = self._other()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._objects, name)


def test_two_overlapping_runs_of_the_day_leave_a_readable_backup(
    seeded: CentralStore, objects: LocalObjectStore, store_url: str, tmp_path: Path
) -> None:
    day = date(2026, 11, 20)
    earlier, _ = backup_central_store(store_url, objects, day=day, keep=7, source=seeded, now=NOW)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = take_backup(store_url, seeded, tmp_path / "first", day, NOW + timedelta(hours=1))
    second = take_backup(store_url, seeded, tmp_path / "second", day, NOW + timedelta(hours=2))
    interleaved = UploadsAnotherRunFirst(objects, lambda: store_backup(objects, second))

    stored = store_backup(interleaved, first)  # type: ignore[arg-type]

    assert interleaved.other is not None
    keys = {info.key for info in objects.list(PREFIX)}
    # The last manifest written (the first run's) names files that exist; the other run's dump is an orphan that
    # pruning removes with the day, and the day's earlier backup was replaced.
    assert Manifest.from_bytes(objects.get_bytes(manifest_key(day))) == stored.manifest
    assert {stored.dump_key, stored.dump_key + ".sha256"} <= keys
    assert interleaved.other.dump_key in keys
    assert earlier.dump_key not in keys
    assert run_drill(objects, store_url).passed


@pytest.mark.parametrize("config_file", ["dagster.yaml", "infra/dagster.yaml"])
def test_both_instances_run_one_backup_at_a_time(
    config_file: str, pg_database: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "dagster.yaml").write_text((repo / config_file).read_text())
    for key, value in {"HOST": "host", "PORT": "port", "USER": "user", "PASSWORD": "password", "DB": "db_name"}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{key}", pg_database[value] or "unused")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits  # type: ignore[attr-defined]
    assert {"key": "dagster/job_name", "value": "central_store_backup_job", "limit": 1} in limits


def test_a_failing_scratch_drop_keeps_the_drills_own_error(
    pg_database: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url = pg_url(pg_database, password="s3cret-pw")
    name = SCRATCH_PREFIX + datetime.now(UTC).strftime("%Y%m%d") + "_0dd5"
    admin = psycopg2.connect(PG_DSN)
    admin.autocommit = True

    def drill_that_fails() -> None:
        with scratch_postgres(url, name):
            # PostgreSQL refuses to drop a template database: the cleanup's DROP DATABASE fails for real.
            admin.cursor().execute(f'ALTER DATABASE "{name}" IS_TEMPLATE true')
            raise DrillFailure("the restored counts differ")

    try:
        with pytest.raises(DrillFailure, match="the restored counts differ"):
            drill_that_fails()
        assert f"Could not drop the scratch database {name}" in caplog.text
        assert "template" in caplog.text
        assert "s3cret-pw" not in caplog.text
    finally:
        admin.cursor().execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def test_pruning_keeps_the_newest_seven(seeded: CentralStore, objects: LocalObjectStore, store_url: str) -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(9)]
    for day in days:
        backup_central_store(store_url, objects, day=day, keep=100, source=seeded)
    assert len(complete_days(info.key for info in objects.list(PREFIX))) == 9
    _, pruned = backup_central_store(store_url, objects, day=date(2026, 11, 10), keep=7, source=seeded)
    remaining = complete_days(info.key for info in objects.list(PREFIX))
    assert remaining == sorted([*days[3:], date(2026, 11, 10)], reverse=True)
    assert len(pruned) == 9  # three days x (dump, .sha256, manifest)
    assert all(
        key.startswith(("backups/central/2026/11/01/", "backups/central/2026/11/02/", "backups/central/2026/11/03/"))
        for key in pruned
    )


def test_pruning_touches_nothing_outside_backups_central(
    seeded: CentralStore, objects: LocalObjectStore, store_url: str
) -> None:
    objects.put_bytes("backups/other/2020/01/01/manifest.json", b"{}")
    objects.put_bytes("ttm-artifacts/2020-01-01/a.parquet", b"x")
    for i in range(3):
        backup_central_store(store_url, objects, day=date(2026, 11, 1) + timedelta(days=i), keep=1, source=seeded)
    assert objects.exists("backups/other/2020/01/01/manifest.json")
    assert objects.exists("ttm-artifacts/2020-01-01/a.parquet")
    assert complete_days(info.key for info in objects.list(PREFIX)) == [date(2026, 11, 3)]


# ------------------------------------------------------------------------------------------------- failures


def test_a_corrupted_dump_fails_the_drill_clearly(
    seeded: CentralStore, objects: LocalObjectStore, store_url: str
) -> None:
    stored, _ = backup_central_store(store_url, objects, day=date(2026, 11, 20), keep=7, source=seeded)
    flip_a_byte(Path(objects.root) / stored.dump_key)
    report = run_drill(objects, store_url)
    assert not report.passed
    assert len(report.problems) == 1
    assert "is corrupt: sha256" in report.problems[0]
    assert "it was not restored" in report.problems[0]


def test_a_dump_that_does_not_match_its_manifest_fails_the_drill(
    seeded: CentralStore, objects: LocalObjectStore, store_url: str
) -> None:
    stored, _ = backup_central_store(store_url, objects, day=date(2026, 11, 20), keep=7, source=seeded)
    recorded = json.loads(objects.get_bytes(stored.manifest_key))
    recorded["tables"]["inbound_events_raw"]["rows"] = 251
    objects.put_bytes(stored.manifest_key, json.dumps(recorded).encode())
    report = run_drill(objects, store_url)
    assert report.problems == ["table inbound_events_raw: 250 rows restored, 251 at dump time"]


def test_no_backup_at_all_fails_the_drill(objects: LocalObjectStore, store_url: str) -> None:
    report = run_drill(objects, store_url)
    assert not report.passed
    assert "there is no complete backup" in report.problems[0]


def test_a_failing_object_store_leaves_the_days_previous_backup_intact(
    seeded: CentralStore, tmp_path: Path, store_url: str
) -> None:
    class ManifestWriteFails:
        """The local object store, with manifest writes failing while ``fail`` is set (a full disk, a denied PUT)."""

        def __init__(self, inner: LocalObjectStore) -> None:
            self.inner = inner
            self.fail = False

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def put_bytes(self, key: str, data: bytes) -> None:
            if self.fail and key.endswith("manifest.json"):
                raise OSError("No space left on device")
            self.inner.put_bytes(key, data)

    objects = ManifestWriteFails(LocalObjectStore(root=str(tmp_path / "object-store")))
    day = date(2026, 11, 20)
    first, _ = backup_central_store(store_url, objects, day=day, keep=7, source=seeded)
    objects.fail = True
    with pytest.raises(BackupError, match=r"No space left on device.*previous backup, if any, is unchanged"):
        backup_central_store(store_url, objects, day=day, keep=7, source=seeded)
    keys = sorted(info.key for info in objects.list(PREFIX))
    assert keys == sorted([first.dump_key, first.dump_key + ".sha256", manifest_key(day)])
    objects.fail = False
    assert run_drill(objects, store_url).passed


@pytest.mark.usefixtures("pg_database")
def test_pg_dump_missing_from_path_is_a_clear_error(
    pg_database: dict[str, str], objects: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_url(pg_database)
    store = CentralStore(url=url)
    seed(store, events=5)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BackupError, match=r"pg_dump was not found on PATH.*postgresql-client"):
        backup_central_store(url, objects, day=date(2026, 11, 20), keep=7, source=store)
    assert list(objects.list(PREFIX)) == []
    store.dispose()


def test_an_unreachable_database_is_a_clear_error_and_the_password_stays_hidden(objects: LocalObjectStore) -> None:
    url = f"postgresql+psycopg2://ops:s3cret-pw@127.0.0.1:{free_port()}/ops"
    with pytest.raises(BackupError) as raised:
        backup_central_store(url, objects, day=date(2026, 11, 20), keep=7)
    message = str(raised.value)
    assert "could not be read for the backup" in message
    assert "reachable" in message
    assert "s3cret-pw" not in message
    assert "***" in message
    assert list(objects.list(PREFIX)) == []


def test_the_password_reaches_pg_dump_but_no_manifest_or_message(
    pg_database: dict[str, str], objects: LocalObjectStore
) -> None:
    # Trust authentication ignores the password, so the dump works while we check where the password shows.
    url = pg_url(pg_database, password="s3cret-pw")
    store = CentralStore(url=url)
    seed(store, events=5)
    stored, _ = backup_central_store(url, objects, day=date(2026, 11, 20), keep=7, source=store)
    assert b"s3cret-pw" not in objects.get_bytes(stored.manifest_key)
    report = run_drill(objects, url)
    assert report.passed
    assert "s3cret-pw" not in repr(report)
    store.dispose()


# ------------------------------------------------------------------------------------- the asset and check


def resources(store: CentralStore, objects: LocalObjectStore, outbox: Path) -> dict:
    return {
        "central_store": store,
        "object_store": objects,
        "notifier": LocalOutboxNotifier(outbox_path=str(outbox)),
        "backup_settings": BackupSettings(keep=7),
    }


def test_the_asset_backs_up_and_its_drill_passes_then_a_corrupt_dump_alerts(
    seeded: CentralStore, objects: LocalObjectStore, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.jsonl"
    res = resources(seeded, objects, outbox)
    partition = today().isoformat()
    result = dg.materialize([central_store_backup, restore_drill], resources=res, partition_key=partition)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("central_store_backup")
    metadata = materialization.metadata
    assert metadata["rows_per_table"].value["inbound_events_raw"] == 250
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed, evaluation.description
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert read_outbox(outbox) == []

    dump = Path(objects.root) / Manifest.from_bytes(objects.get_bytes(manifest_key(today()))).dump_key
    flip_a_byte(dump)
    result = dg.materialize(
        [central_store_backup, restore_drill],
        resources=res,
        selection=dg.AssetSelection.checks(restore_drill),
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert "is corrupt: sha256" in (evaluation.description or "")
    (alert,) = read_outbox(outbox)
    assert alert["subject"] == f"Backup restore drill failed ({today().isoformat()})"
    assert "is corrupt" in alert["body"]
    assert "docs/OPERATIONS.md" in alert["body"]
    assert "materialize central_store_backup" in alert["body"]


def test_the_asset_refuses_an_old_partition(seeded: CentralStore, objects: LocalObjectStore, tmp_path: Path) -> None:
    result = dg.materialize(
        [central_store_backup],
        resources=resources(seeded, objects, tmp_path / "outbox.jsonl"),
        partition_key=(today() - timedelta(days=5)).isoformat(),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("central_store_backup")
    assert "cannot be taken for an earlier day" in str(failure.user_failure_data.description)
    assert list(objects.list(PREFIX)) == []


def test_postgres_computes_the_same_key_checksum_as_python(seeded: CentralStore, store_url: str) -> None:
    """On PostgreSQL the server sums the md5s; for text keys its text is Python's, so both sums must agree."""
    from ops_assets.backups.fingerprint import fingerprint_tables, rows_checksum

    with seeded.connect() as conn:
        tables = fingerprint_tables(conn)
        uids = conn.execute(sa.select(inbound_events_raw.c.event_uid)).all()
    assert (tables["inbound_events_raw"].rows, tables["inbound_events_raw"].key_checksum) == rows_checksum(uids)
    assert tables["feed_state"].key_checksum == rows_checksum([("sample",)])[1]


def test_an_object_store_error_during_the_drill_is_a_failed_drill(
    seeded: CentralStore, objects: LocalObjectStore, store_url: str
) -> None:
    backup_central_store(store_url, objects, day=date(2026, 11, 20), keep=7, source=seeded)

    class DownloadFails:
        def __getattr__(self, name: str) -> object:
            return getattr(objects, name)

        def download_file(self, key: str, local_path: Path) -> None:
            raise ConnectionResetError("Connection reset by peer")

    report = run_drill(DownloadFails(), store_url)
    assert not report.passed
    assert report.problems == ["the drill stopped on ConnectionResetError: Connection reset by peer"]
