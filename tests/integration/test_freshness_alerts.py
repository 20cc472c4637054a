"""Freshness alerts end to end: Dagster's own freshness daemon evaluates our definitions' policies, the
freshness_alerts sensor turns its state changes into notifications in the local outbox.

The clock is moved with Dagster's ``freeze_time`` so that "ten minutes without a news poll" takes no ten
minutes; everything else (the daemon's evaluator, the event log, the sensor, the notifier) is the real code.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
)
from dagster._core.test_utils import freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon

from ops_assets.definitions import defs
from ops_assets.monitoring import sensors as monitoring_sensors
from ops_assets.monitoring.sensors import freshness_alerts
from resources.notifier import LocalOutboxNotifier, Notifier, read_outbox

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DAY = "2026-11-23"

pytestmark = pytest.mark.integration


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        yield instance


@pytest.fixture
def workspace(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="ops_assets.definitions", working_directory=str(REPO))
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as context:
        yield context


def materialize(instance: dg.DagsterInstance, at: datetime, *assets: str) -> None:
    with freeze_time(at):
        for asset in assets:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=DAY))


def daemon_tick(workspace: WorkspaceProcessContext, at: datetime) -> None:
    with freeze_time(at):
        list(FreshnessDaemon().run_iteration(workspace))


class Alerts:
    """Runs the sensor the way the daemon does: with the cursor of its previous tick."""

    def __init__(self, instance: dg.DagsterInstance, notifier: Notifier) -> None:
        self.instance = instance
        self.notifier = notifier
        self.cursor: str | None = None

    def tick(self) -> None:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            repository_def=defs.get_repository_def(),
            resources={"notifier": self.notifier},
        )
        freshness_alerts(context)
        self.cursor = context.cursor


def test_stale_escalation_and_recovery_each_notify_once(
    instance: dg.DagsterInstance, workspace: WorkspaceProcessContext, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.jsonl"
    alerts = Alerts(instance, LocalOutboxNotifier(outbox_path=str(outbox)))
    materialize(instance, START, "raw_news_events", "classified_events", "market_telemetry")

    # Four minutes on: the minutely news assets are past their 3-minute warning, telemetry (10 min) is not.
    daemon_tick(workspace, START + timedelta(minutes=4))
    alerts.tick()
    [warn] = read_outbox(outbox)
    assert warn["subject"] == "Freshness WARN - 2 stale: classified_events, raw_news_events"
    assert "raw_news_events: first seen -> WARN" in warn["body"]
    assert "expected within 10 min (warning after 3 min)" in warn["body"]
    assert "last updated 2026-11-23 15:00:00 UTC" in warn["body"]
    assert "market_telemetry" not in warn["body"]
    # Never-materialized assets (UNKNOWN) are new, not late.
    assert "ttm_per_share" not in warn["body"]

    # The same states on the next ticks: nothing new to say.
    daemon_tick(workspace, START + timedelta(minutes=5))
    alerts.tick()
    assert len(read_outbox(outbox)) == 1

    # Eleven minutes: news fails, telemetry warns; one notification for all three.
    daemon_tick(workspace, START + timedelta(minutes=11))
    alerts.tick()
    fail = read_outbox(outbox)[-1]
    assert fail["subject"] == "Freshness FAIL - 3 stale: classified_events, market_telemetry, raw_news_events"
    assert "raw_news_events: WARN -> FAIL" in fail["body"]
    assert "market_telemetry: PASS -> WARN" in fail["body"]

    # The schedule runs again: every one of them recovers, once.
    materialize(instance, START + timedelta(minutes=12), "raw_news_events", "classified_events", "market_telemetry")
    daemon_tick(workspace, START + timedelta(minutes=12, seconds=30))
    alerts.tick()
    alerts.tick()
    messages = read_outbox(outbox)
    assert len(messages) == 3
    assert messages[-1]["subject"] == "Freshness RECOVERED - classified_events, market_telemetry, raw_news_events"
    assert "raw_news_events: FAIL -> PASS" in messages[-1]["body"]


class BrokenNotifier(Notifier):
    def publish(self, subject: str, body: str) -> str:
        raise ConnectionError("SNS endpoint unreachable")


def test_a_failed_notification_is_sent_again_on_the_next_tick(
    instance: dg.DagsterInstance, workspace: WorkspaceProcessContext, tmp_path: Path
) -> None:
    materialize(instance, START, "raw_news_events")
    daemon_tick(workspace, START + timedelta(minutes=4))
    broken = Alerts(instance, BrokenNotifier())
    with pytest.raises(ConnectionError):
        broken.tick()
    assert broken.cursor is None  # nothing marked as said

    outbox = tmp_path / "outbox.jsonl"
    working = Alerts(instance, LocalOutboxNotifier(outbox_path=str(outbox)))
    working.cursor = broken.cursor
    working.tick()
    [message] = read_outbox(outbox)
    assert message["subject"] == "Freshness WARN - 1 stale: raw_news_events"


def start_schedule(workspace: WorkspaceProcessContext, name: str, at: datetime, *, running: bool = True) -> None:
    """Record the schedule as started (or stopped) at ``at``, as turning it on in the UI does."""
    [location] = workspace.create_request_context().code_locations
    [repository] = location.get_repositories().values()
    schedule = repository.get_schedule(name)
    status = InstigatorStatus.RUNNING if running else InstigatorStatus.STOPPED
    workspace.instance.add_instigator_state(
        InstigatorState(
            schedule.get_remote_origin(),
            InstigatorType.SCHEDULE,
            status,
            ScheduleInstigatorData(schedule.cron_schedule, start_timestamp=at.timestamp()),
        )
    )


def test_never_materialized_assets_are_late_once_their_window_passed_since_their_schedule_started(
    instance: dg.DagsterInstance, workspace: WorkspaceProcessContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """news_job fails every minute (its model is missing), so its assets are never materialized: issue 11."""
    outbox = tmp_path / "outbox.jsonl"
    alerts = Alerts(instance, LocalOutboxNotifier(outbox_path=str(outbox)))
    start_schedule(workspace, "news_job_schedule", START)
    start_schedule(workspace, "market_signals_job_schedule", START, running=False)  # stopped: nothing promised

    def tick(minutes: float) -> None:
        monkeypatch.setattr(monitoring_sensors, "_now", lambda: START + timedelta(minutes=minutes))
        alerts.tick()

    tick(2)
    assert read_outbox(outbox) == []  # within the 3-minute warning window of the schedule's start

    tick(4)
    [warn] = read_outbox(outbox)
    assert warn["subject"] == "Freshness WARN - 2 stale: classified_events, raw_news_events"
    assert (
        "never materialized, although its schedule or sensor has been running since 2026-11-23 15:00:00"
        in (warn["body"])
    )

    tick(11)
    fail = read_outbox(outbox)[-1]
    assert fail["subject"].startswith("Freshness FAIL - ")
    assert "raw_news_events: WARN -> FAIL" in fail["body"]
    # The stopped schedule's assets promise nothing.
    assert all("market_telemetry" not in m["body"] for m in read_outbox(outbox))
    assert all("trade_executions" not in m["body"] for m in read_outbox(outbox))

    # The job works again: the first materialization is a recovery.
    materialize(instance, START + timedelta(minutes=12), "raw_news_events", "classified_events")
    daemon_tick(workspace, START + timedelta(minutes=12, seconds=30))
    tick(12.5)
    recovered = read_outbox(outbox)[-1]
    assert recovered["subject"] == "Freshness RECOVERED - classified_events, raw_news_events"
