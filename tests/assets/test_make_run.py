"""`make run`'s script on a fresh data folder: the week's artifact, one live tick, the sample day's trades; its
output as a newcomer reads it (steps and a summary, no Dagster DEBUG lines, no warnings), and its runs recorded
under the code location the UI loads."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml

from ops_assets.cli import FUNDAMENTALS
from tests.assets.conftest import PARTITION

REPO = Path(__file__).resolve().parents[2]


def workspace_location_name() -> str:
    """The location name workspace.yaml gives the code (what `make ui` loads)."""
    (entry,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    return next(iter(entry.values()))["location_name"]


def run_local_module():
    spec = importlib.util.spec_from_file_location("run_local", REPO / "scripts" / "run_local.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_make_run_shows_the_pipeline_end_to_end(local_env: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHA_VANTAGE_")}
    result = subprocess.run(
        [sys.executable, "scripts/run_local.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # The shape a newcomer reads: numbered steps, each with its result line, then a summary; nothing else.
    steps = re.findall(r"^\[(\d)/(\d)\] ", out, flags=re.MULTILINE)
    assert [int(n) for n, _ in steps] == list(range(1, 7)), steps
    assert len(re.findall(r"^  done in \d+ s: \d+ assets? materialized", out, flags=re.MULTILINE)) == 6
    assert "\nSummary\n  Built: 6 Dagster runs" in out
    assert "  Next: make ui, then http://127.0.0.1:3000" in out
    for noise in ("DEBUG", "STEP_START", "Warning", "warn("):
        assert noise not in out + result.stderr, noise
    assert result.stderr == ""
    # The full event log is not lost: the instance has it, and so does the log file the summary names.
    log = Path(out.split("Event log of these runs: ")[1].split(" (")[0])
    assert "RUN_SUCCESS" in log.read_text()
    home = Path(os.environ["DAGSTER_HOME"])
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = [r.dagster_run for r in instance.get_run_records()]
        assert len(runs) == 6
        # Recorded under the UI's code location, so its Re-execute finds the job.
        assert {run.remote_job_origin.location_name for run in runs if run.remote_job_origin} == {
            workspace_location_name()
        }
        assert all(run.remote_job_origin for run in runs)
        assert all(instance.all_logs(run.run_id) for run in runs)
    artifact = Path(out.split("Artifact: ")[1].splitlines()[0])
    assert artifact.is_relative_to(local_env)
    assert pq.read_metadata(artifact).num_rows > 0
    assert "Replaying the sample's last trading day, 2026-11-20" in out
    assert "Latest recommendations (3 dry-run fills in all):" in out
    # The trades themselves are asserted in tests/assets/test_event_pipeline.py; here, that they are shown.
    assert "SELL FJRX   EXECUTED: dry-run SELL" in out
    assert "BUY  AXQT   EXECUTED: dry-run BUY" in out
    assert "because mean sentiment +0.52 over 3 articles in 4 h" in out
    assert "Forecasting data for the sample's last session, 2026-11-27" in out
    assert "Forecast model registry (MASE: " in out
    assert "  latest version 1 (" in out
    assert "  champion: version " in out
    assert "AMZN: avg_price forecast for 2026-11-30: " in out
    assert "Trading-desk feed: sample Actant files" in out
    assert ": quarantined (" in out
    assert "The dashboard reads (redis-cli HGETALL actant:market:ZN):" in out
    assert "    price: " in out
    report = local_env / "object-store" / "forecasting" / "reports" / "2026" / "11" / "27" / "forecast_report.png"
    assert report.read_bytes().startswith(b"\x89PNG")
    assert (local_env / "object-store" / "forecasting" / "features" / "AMZN.parquet").exists()


def test_verbose_prints_the_event_log_and_quiet_keeps_it_in_the_log_file(
    local_env: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run_local = run_local_module()
    assert run_local.parse_args(["--verbose"]).verbose
    assert not run_local.parse_args([]).verbose

    assert run_local.materialize("1/1", "Fundamentals", PARTITION, FUNDAMENTALS, verbose=True) == 0
    verbose = capfd.readouterr()
    assert "DEBUG" in verbose.err
    assert "STEP_SUCCESS" in verbose.err
    assert "RUN_SUCCESS" in verbose.err
    assert "[1/1] Fundamentals" in verbose.out
    assert "  done in " in verbose.out

    assert run_local.materialize("1/1", "Fundamentals again", PARTITION, FUNDAMENTALS, verbose=False) == 0
    quiet = capfd.readouterr()
    assert "DEBUG" not in quiet.out + quiet.err
    assert "Warning" not in quiet.out + quiet.err
    assert "  done in " in quiet.out
    assert quiet.out.count("\n") <= 8  # the title, one line per step (4), the result
    assert "RUN_SUCCESS" in run_local.event_log_path().read_text()


def test_verbose_env_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    run_local = run_local_module()
    monkeypatch.setenv("VERBOSE", "1")
    assert run_local.parse_args([]).verbose
