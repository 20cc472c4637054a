"""docs/OPERATIONS.md "Restore by hand", followed to the letter: its ``bash`` blocks are read from the file and run.

A backup of a seeded PostgreSQL central store is taken into the object store (S3 on moto, or the local object
store); then steps 1 (S3 or local), 2, 3 and 4 of the doc run in one bash script with the variables the doc asks
for, against the machine's PostgreSQL; then the restored database is checked to hold the backed-up rows. If the
doc's commands stop working, this test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from datetime import date
from pathlib import Path

import boto3
import psycopg2
import pytest

from ops_assets.backups.dump import backup_central_store
from resources.central_store import CentralStore
from resources.object_store import LocalObjectStore, S3ObjectStore
from tests.conftest import PG_DSN, pg_url
from tests.integration.test_backups import seed

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md"
DAY = date(2026, 11, 29)


def doc_steps() -> dict[str, str]:
    """The section's ``bash`` blocks by their first line (``# step 1 (s3)``, ``# step 2``, ...)."""
    text = DOC.read_text()
    section = text.split("\n## Restore by hand\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    steps = {block.splitlines()[0].lstrip("# ").strip(): block for block in blocks}
    assert set(steps) == {"step 1 (s3)", "step 1 (local)", "step 2", "step 3", "step 4"}, steps.keys()
    return steps


def test_the_doc_says_a_test_follows_it() -> None:
    assert "A test follows these exact steps" in DOC.read_text()
    assert "tests/integration/test_restore_by_hand.py" in DOC.read_text()


@pytest.mark.parametrize("source", ["s3", "local"])
def test_restore_by_hand_as_documented(
    source: str, pg_database: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for tool in ("jq", "sha256sum", "createdb", "pg_restore", "psql") + (("aws",) if source == "s3" else ()):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: Restore by hand needs it (docs/OPERATIONS.md)")
    url = pg_url(pg_database)
    store = CentralStore(url=url)
    seed(store, events=300)
    env = {
        **os.environ,
        "DAY": f"{DAY:%Y/%m/%d}",
        "TARGET": f"ops_restored_{uuid.uuid4().hex[:8]}",
        "PGHOST": pg_database["host"],
        "PGPORT": pg_database["port"],
        "PGUSER": pg_database["user"],
    }
    if source == "s3":
        endpoint = request.getfixturevalue("moto_server")
        bucket = f"ops-backups-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        objects = S3ObjectStore(bucket=bucket, endpoint_url=endpoint)
        env |= {"OPS_BUCKET": bucket, "AWS_ENDPOINT_URL": endpoint}
    else:
        data_dir = tmp_path / "data"
        objects = LocalObjectStore(root=str(data_dir / "object-store"))
        env["OPS_DATA_DIR"] = str(data_dir)
    stored, _ = backup_central_store(url, objects, day=DAY, keep=7, source=store)
    store.dispose()

    steps = doc_steps()
    script = "\n".join([steps[f"step 1 ({source})"], steps["step 2"], steps["step 3"], steps["step 4"]])
    workdir = tmp_path / "operator"
    workdir.mkdir()
    try:
        result = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert f"{stored.manifest.dump_file}: OK" in output  # step 2
        assert "ok inbound_events_raw 300" in output  # step 4
        assert "ok lane_telemetry 24" in output
        with psycopg2.connect(f"{PG_DSN.rsplit('/', 1)[0]}/{env['TARGET']}") as conn, conn.cursor() as cursor:
            cursor.execute("SELECT event_uid FROM inbound_events_raw ORDER BY event_uid")
            assert [r[0] for r in cursor.fetchall()] == [f"uid-{i:05d}" for i in range(300)]
            cursor.execute("SELECT count(*), min(ts), max(ts) FROM lane_telemetry")
            assert cursor.fetchone()[0] == 24
        conn.close()
    finally:
        admin = psycopg2.connect(PG_DSN)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{env["TARGET"]}" WITH (FORCE)')
        admin.close()


def test_a_damaged_download_stops_at_step_2(pg_database: dict[str, str], tmp_path: Path) -> None:
    url = pg_url(pg_database)
    store = CentralStore(url=url)
    seed(store, events=10)
    data_dir = tmp_path / "data"
    objects = LocalObjectStore(root=str(data_dir / "object-store"))
    stored, _ = backup_central_store(url, objects, day=DAY, keep=7, source=store)
    store.dispose()
    dump = data_dir / "object-store" / stored.dump_key
    damaged = bytearray(dump.read_bytes())
    damaged[100] ^= 0x01
    dump.write_bytes(bytes(damaged))
    steps = doc_steps()
    target = f"ops_restored_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DAY": f"{DAY:%Y/%m/%d}", "TARGET": target, "OPS_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        ["bash", "-c", "\n".join([steps["step 1 (local)"], steps["step 2"], steps["step 3"]])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "FAILED" in result.stdout
    with psycopg2.connect(PG_DSN) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (target,))
        assert cursor.fetchone()[0] == 0  # step 3 never ran
    conn.close()
