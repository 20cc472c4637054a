"""`make run`'s script on a fresh data folder: the week's artifact, one live tick, the sample day's trades."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]


def test_make_run_shows_the_pipeline_end_to_end(local_env: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHA_VANTAGE_")}
    result = subprocess.run(
        [sys.executable, "scripts/run_local.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
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
