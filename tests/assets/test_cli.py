"""`dagster asset materialize` from the CLI on the bundled sample (what `make run` and CI do)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import yaml

from ops_assets.cli import materialize_command
from ops_assets.fundamentals import keys
from ops_assets.fundamentals.partitions import partition_date
from tests.assets.conftest import PARTITION

REPO = Path(__file__).resolve().parents[2]


def test_cli_materializes_the_week_from_the_offline_sample(local_env: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHA_VANTAGE_")}
    command = materialize_command(PARTITION, sys.executable)
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    artifact = local_env / "object-store" / keys.artifact_key(partition_date(PARTITION))
    assert pq.read_metadata(artifact).num_rows > 0
    assert "RUN_SUCCESS" in result.stderr + result.stdout
    # Recorded under the code location the UI loads from workspace.yaml (its Re-execute finds the job there).
    (entry,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_run_records()
        origin = record.dagster_run.remote_job_origin
        assert origin is not None
        assert origin.location_name == next(iter(entry.values()))["location_name"]
        assert origin.repository_origin.repository_name == "__repository__"
        assert record.dagster_run.job_name == origin.job_name


def test_definitions_validate() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "ops_assets.definitions"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_dg_check_defs() -> None:
    dg_cli = Path(sys.executable).with_name("dg")
    env = {**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    result = subprocess.run(
        [str(dg_cli), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All definitions loaded successfully" in result.stdout + result.stderr
