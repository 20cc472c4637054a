"""The real Dagster daemon evaluates the notification sensors for a run started from the CLI.

This is the production path (daemon + run-status sensors + notifier); the other notification tests call
the sensor functions directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ops_assets.cli import materialize_command
from resources.notifier import read_outbox

REPO = Path(__file__).resolve().parents[2]
PARTITION = "2026-11-22"

pytestmark = pytest.mark.integration


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def running_daemon(env: dict[str, str], log_path: Path) -> Iterator[None]:
    """`dagster dev` on the project's workspace (its daemon evaluates the sensors), stopped with its process group."""
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", "0"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # `dagster dev` ignores SIGTERM unless it leads its own process group
        )
    try:
        yield
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)


def test_daemon_sends_the_success_notification_for_a_cli_run(local_env: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHA_VANTAGE_")}
    daemon_log = tmp_path / "daemon.log"
    with running_daemon(env, daemon_log):
        # The notification sensors only announce runs that finish after their first evaluation.
        wait_for(
            lambda: (
                "Sensor fundamentals_success_notification skipped: Started watching finished runs"
                in daemon_log.read_text()
            ),
            timeout=120,
            what="the daemon's first evaluation of the success sensor",
        )
        run = subprocess.run(materialize_command(PARTITION, sys.executable), cwd=REPO, env=env, capture_output=True)
        assert run.returncode == 0, run.stderr[-3000:]
        outbox = local_env / "outbox.jsonl"
        wait_for(lambda: bool(read_outbox(outbox)), timeout=120, what="the SUCCESS notification in the outbox")
    [message] = read_outbox(outbox)
    assert message["subject"] == f"Financial Pipeline SUCCESS - {PARTITION}"
    assert f"ttm-artifacts/{PARTITION}/ttm_per_share_financial_artifact.parquet" in message["body"]


def test_daemon_alerts_once_for_a_job_failing_again_and_again(local_env: Path, tmp_path: Path) -> None:
    """Issue 11's finding: with the daemon running and a non-fundamentals run failing, nothing was sent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHA_VANTAGE_")}
    env["OPS_UI_BASE_URL"] = "https://dagster.ops.example.com"
    daemon_log = tmp_path / "daemon.log"
    outbox = local_env / "outbox.jsonl"
    with running_daemon(env, daemon_log):
        wait_for(
            lambda: "Sensor run_failure_alerts skipped: Started watching finished runs" in daemon_log.read_text(),
            timeout=120,
            what="the daemon's first evaluation of run_failure_alerts",
        )
        # On a fresh instance trade_recommendations fails: market_telemetry never recorded its watched tickers.
        for _ in range(2):
            command = materialize_command(PARTITION, sys.executable, "trade_recommendations")
            run = subprocess.run(command, cwd=REPO, env=env, capture_output=True)
            assert run.returncode != 0
        wait_for(lambda: bool(read_outbox(outbox)), timeout=120, what="the run-failure alert in the outbox")
        # The second failure is read too (and held back for the digest) before the daemon stops.
        wait_for(
            lambda: (
                "Sensor run_failure_alerts skipped: 1 finished runs read, nothing to send" in daemon_log.read_text()
                or "Sensor run_failure_alerts skipped: 2 finished runs read" in daemon_log.read_text()
                or len(read_outbox(outbox)) > 1
            ),
            timeout=120,
            what="the sensor's evaluation of the second failure",
        )
    [message] = read_outbox(outbox)
    assert message["subject"].startswith(
        "Run FAILED - ad hoc materialization of trade_recommendations: market_telemetry has no run"
    )
    first_line = message["body"].splitlines()[0]
    assert first_line.startswith(f"ad hoc materialization of trade_recommendations failed for partition {PARTITION}")
    assert "dagster._core" not in message["subject"] + first_line
    assert "Run: https://dagster.ops.example.com/runs/" in message["body"]
