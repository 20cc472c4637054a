"""The backups domain's plain functions: keys, manifest, pruning choice, checksums, connection options."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest

from ops_assets.backups.dump import libpq_args, scrub
from ops_assets.backups.fingerprint import render, rows_checksum
from ops_assets.backups.manifest import (
    Manifest,
    ManifestError,
    TableFingerprint,
    checksum_line,
    compare_tables,
    complete_days,
    day_of_key,
    day_prefix,
    dump_file_name,
    manifest_key,
    plan_prune,
    sha256_file,
)
from ops_assets.backups.partitions import check_backup_day

TAKEN = datetime(2026, 11, 29, 3, 30, 5, tzinfo=UTC)


def manifest(**overrides: object) -> Manifest:
    values: dict = {
        "day": date(2026, 11, 29),
        "engine": "postgresql",
        "dump_file": "central-20261129T033005Z-abc123.pgdump",
        "sha256": "a" * 64,
        "size_bytes": 1234,
        "taken_at": TAKEN,
        "tables": {
            "inbound_events_raw": TableFingerprint(3, ("event_uid",), "0" * 31 + "1"),
            "lane_telemetry": TableFingerprint(2, ("ticker", "ts"), "f" * 32),
        },
        "tool": "pg_dump (PostgreSQL) 15.20",
        "snapshot": "00000003-0000001B-1",
    }
    values.update(overrides)
    return Manifest(**values)


def backup_keys(day: date, *, complete: bool = True) -> list[str]:
    prefix = day_prefix(day)
    keys = [prefix + "central-x.pgdump", prefix + "central-x.pgdump.sha256"]
    return [*keys, manifest_key(day)] if complete else keys


# ------------------------------------------------------------------------------------------------------ keys


def test_keys_follow_the_year_month_day_layout() -> None:
    day = date(2026, 3, 7)
    assert day_prefix(day) == "backups/central/2026/03/07/"
    assert manifest_key(day) == "backups/central/2026/03/07/manifest.json"
    assert day_of_key("backups/central/2026/03/07/central-x.pgdump") == day
    assert day_of_key("backups/central/2026/03/07/sub/central-x.pgdump") is None
    assert day_of_key("backups/central/2026/02/30/manifest.json") is None  # not a date
    assert day_of_key("backups/other/2026/03/07/manifest.json") is None


def test_dump_names_are_new_per_run_and_say_their_format() -> None:
    first = dump_file_name("postgresql", TAKEN)
    assert first.startswith("central-20261129T033005Z-")
    assert first.endswith(".pgdump")
    assert dump_file_name("postgresql", TAKEN) != first  # a rerun in the same second gets its own name
    assert dump_file_name("sqlite", TAKEN, token="t").endswith("Z-t.sqlite3")


def test_checksum_line_is_what_sha256sum_reads() -> None:
    assert checksum_line("ab" * 32, "central-x.pgdump") == f"{'ab' * 32}  central-x.pgdump\n".encode()


# -------------------------------------------------------------------------------------------------- manifest


def test_manifest_round_trips_through_json() -> None:
    original = manifest()
    again = Manifest.from_bytes(original.to_bytes())
    assert again == original
    assert again.dump_key == "backups/central/2026/11/29/central-20261129T033005Z-abc123.pgdump"
    assert again.total_rows == 5
    assert original.to_json()["tables"]["lane_telemetry"] == {
        "rows": 2,
        "key_columns": ["ticker", "ts"],
        "key_checksum": "f" * 32,
    }


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{not json", "not JSON"),
        (b'{"manifest_version": 99}', "manifest_version 99"),
        (b'{"manifest_version": 1, "day": "2026-11-29"}', "not readable"),
    ],
)
def test_an_unreadable_manifest_says_why(data: bytes, match: str) -> None:
    with pytest.raises(ManifestError, match=match):
        Manifest.from_bytes(data)


def test_a_manifest_cannot_point_outside_its_day_folder() -> None:
    data = manifest(dump_file="../../2026/11/28/central-x.pgdump").to_bytes()
    with pytest.raises(ManifestError, match="not a file name"):
        Manifest.from_bytes(data)


# --------------------------------------------------------------------------------------------------- pruning


def test_prune_keeps_the_newest_seven_complete_backups() -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(10)]
    keys = [k for d in days for k in backup_keys(d)]
    plan = plan_prune(keys, keep=7)
    assert plan.keep_days == sorted(days[3:], reverse=True)
    assert plan.delete_keys == sorted(k for d in days[:3] for k in backup_keys(d))


def test_prune_counts_only_complete_backups_and_spares_newer_incomplete_days() -> None:
    complete = [date(2026, 11, d) for d in (1, 2, 4, 5, 6, 7, 8, 9)]
    old_partial = date(2026, 10, 31)  # a crashed run's dump, older than every kept backup
    new_partial = date(2026, 11, 10)  # maybe being written right now
    gap_partial = date(2026, 11, 3)  # between kept backups
    keys = [k for d in complete for k in backup_keys(d)]
    keys += backup_keys(old_partial, complete=False) + backup_keys(new_partial, complete=False)
    keys += [*backup_keys(gap_partial, complete=False), "backups/central/README.txt"]
    plan = plan_prune(keys, keep=7)
    assert plan.keep_days == sorted(complete[1:], reverse=True)  # 11-01 is the eighth newest
    assert plan.delete_keys == sorted(backup_keys(old_partial, complete=False) + backup_keys(date(2026, 11, 1)))


def test_prune_deletes_nothing_below_the_count_and_refuses_to_keep_none() -> None:
    keys = [k for i in range(5) for k in backup_keys(date(2026, 11, 1) + timedelta(days=i))]
    assert plan_prune(keys, keep=7).delete_keys == []
    assert complete_days(keys)[0] == date(2026, 11, 5)
    with pytest.raises(ValueError, match="at least 1"):
        plan_prune(keys, keep=0)


# ------------------------------------------------------------------------------------------------- checksums


def test_key_checksum_ignores_row_order_and_catches_any_change() -> None:
    rows = [("AXQT", "2026-11-20T16:40:00"), ("FJRX", "2026-11-20T16:40:00"), ("AXQT", "2026-11-20T16:45:00")]
    count, checksum = rows_checksum(rows)
    assert count == 3
    assert rows_checksum(reversed(rows)) == (3, checksum)
    assert rows_checksum(rows[:2])[1] != checksum  # a lost row
    assert rows_checksum([*rows[:2], ("AXQT", "2026-11-20T16:50:00")])[1] != checksum  # a changed key
    assert rows_checksum([]) == (0, "0" * 32)


def test_key_checksum_is_the_sum_of_row_md5s() -> None:
    lines = [b"a\t1", b"b\t2"]
    expected = sum(int.from_bytes(hashlib.md5(line).digest(), "big") for line in lines) % (1 << 128)
    assert rows_checksum([("a", 1), ("b", 2)])[1] == f"{expected:032x}"


def test_render_tells_null_from_the_text_none() -> None:
    assert render(None) != render("None")
    assert render(datetime(2026, 11, 20, 16, 40, tzinfo=UTC)) == "2026-11-20T16:40:00+00:00"
    assert render(b"\x01\xff") == "01ff"


def test_sha256_file_reads_in_chunks(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 3_000_001)
    assert sha256_file(path, chunk_size=1 << 20) == (hashlib.sha256(b"x" * 3_000_001).hexdigest(), 3_000_001)


def test_compare_tables_names_each_difference() -> None:
    expected = manifest().tables
    assert compare_tables(expected, dict(expected)) == []
    actual = {
        "inbound_events_raw": TableFingerprint(2, ("event_uid",), "0" * 32),
        "extra_table": TableFingerprint(0, ("id",), "0" * 32),
    }
    assert compare_tables(expected, actual) == [
        "table inbound_events_raw: 2 rows restored, 3 at dump time",
        "table lane_telemetry (2 rows at dump time) is missing after the restore",
        "table extra_table exists after the restore but is not in the manifest",
    ]
    same_count = {**expected, "lane_telemetry": TableFingerprint(2, ("ticker", "ts"), "e" * 32)}
    assert compare_tables(expected, same_count) == [
        "table lane_telemetry: the checksum of its key columns (ticker, ts) differs from the one at dump time "
        "although the row count matches"
    ]


# ------------------------------------------------------------------------------------------------ connection


def test_the_password_goes_to_the_environment_never_the_command_line() -> None:
    url = "postgresql+psycopg2://ops:s3cr%40t-pw@db.internal:6543/ops?sslmode=require"
    args, env = libpq_args(url)
    assert args == ["--host", "db.internal", "--port", "6543", "--username", "ops", "--dbname", "ops"]
    assert env["PGPASSWORD"] == "s3cr@t-pw"
    assert env["PGSSLMODE"] == "require"
    assert not any("s3cr" in a for a in args)
    assert libpq_args(url, database="scratch")[0][-1] == "scratch"
    assert scrub("auth failed for s3cr@t-pw", url) == "auth failed for ***"


def test_a_backup_is_filed_under_today_or_yesterday_only() -> None:
    today = date(2026, 11, 30)
    check_backup_day(today, today)
    check_backup_day(date(2026, 11, 29), today)
    with pytest.raises(ValueError, match="cannot be taken for an earlier day"):
        check_backup_day(date(2026, 11, 20), today)
    with pytest.raises(ValueError, match="future"):
        check_backup_day(date(2026, 12, 1), today)


def test_only_scratch_databases_of_drills_before_yesterday_are_stale() -> None:
    from ops_assets.backups.restore import stale_scratch_databases

    names = [
        "ops_restore_drill_20261127_0a1b2c3d",  # two days old: a killed drill's
        "ops_restore_drill_20261129_0a1b2c3d",  # yesterday: may still be running
        "ops_restore_drill_20261130_ffffffff",
        "ops_restore_drill_20261399_00000000",  # not a date
        "ops",
        "ops_restore_drill_notes",
    ]
    assert stale_scratch_databases(names, today=date(2026, 11, 30)) == ["ops_restore_drill_20261127_0a1b2c3d"]
