"""run_failure_alerts end to end: real failed runs on a real instance, the real sensor evaluated tick after tick
with the cursor it left (what the daemon stores, so also what a restarted daemon reads), and the SNS notifier
publishing to a moto SNS topic whose SQS subscription the messages are counted from.

Run times are set with Dagster's ``freeze_time`` so that an hour of a job failing every minute takes seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time

from ops_assets.definitions import defs
from ops_assets.monitoring import sensors as monitoring_sensors
from ops_assets.monitoring.sensors import run_failure_alerts
from ops_assets.monitoring.settings import MonitoringSettings
from resources.notifier import SnsNotifier

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PARTITION = "2026-11-29"
QUIET_MINUTES = 10
UI = "https://dagster.ops.example.com"


class Switch(dg.ConfigurableResource):
    fail: bool = True


@dg.op
def poll_feeds(switch: Switch) -> None:
    if switch.fail:
        raise dg.Failure(description="The sentiment model is not at models/finbert: run make model first.")


@dg.job(name="news_job")
def news_job() -> None:
    poll_feeds()


@dg.asset(name="ttm_per_share")
def fake_ttm_per_share() -> None:
    """Same key as the fundamentals artifact: its runs have their own notice."""
    raise dg.Failure(description="Alpha Vantage rejected the API key")


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        yield instance


@pytest.fixture
def inbox(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    sns = boto3.client("sns", endpoint_url=moto_server, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    topic = sns.create_topic(Name="run-alerts-test")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"run-alerts-{id(sns)}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return {"topic": topic, "sqs": sqs, "queue_url": queue_url, "endpoint": moto_server}


def received(inbox: dict) -> list[dict[str, str]]:
    """Every message on the queue so far (deleted once read)."""
    messages = []
    while True:
        batch = inbox["sqs"].receive_message(QueueUrl=inbox["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            envelope = json.loads(message["Body"])
            messages.append({"subject": envelope["Subject"], "body": envelope["Message"]})
            inbox["sqs"].delete_message(QueueUrl=inbox["queue_url"], ReceiptHandle=message["ReceiptHandle"])


class Daemon:
    """Evaluates the sensor like the daemon: each tick starts from the cursor the previous one stored."""

    def __init__(self, instance: dg.DagsterInstance, inbox: dict, monkeypatch: pytest.MonkeyPatch) -> None:
        self.instance, self.inbox, self.monkeypatch = instance, inbox, monkeypatch
        self.cursor: str | None = None

    def tick(self, at: datetime) -> None:
        self.monkeypatch.setattr(monitoring_sensors, "_now", lambda: at)
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            repository_def=defs.get_repository_def(),
            resources={
                "notifier": SnsNotifier(topic_arn=self.inbox["topic"], endpoint_url=self.inbox["endpoint"]),
                "monitoring_settings": MonitoringSettings(ui_base_url=UI, quiet_period_minutes=QUIET_MINUTES),
            },
        )
        run_failure_alerts(context)
        self.cursor = context.cursor


def run_news(instance: dg.DagsterInstance, at: datetime, *, fail: bool = True) -> str:
    with freeze_time(at):
        result = news_job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={"dagster/partition": PARTITION},
            resources={"switch": Switch(fail=fail)},
        )
    assert result.success is not fail
    return result.run_id


def test_a_job_failing_every_minute_alerts_once_digests_per_quiet_period_and_recovers(
    instance: dg.DagsterInstance, inbox: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = Daemon(instance, inbox, monkeypatch)
    run_news(instance, T0 - timedelta(minutes=5))  # before the sensor existed: history, not news
    daemon.tick(T0)
    assert received(inbox) == []

    first_run = None
    for minute in range(25):  # fails every minute for 25 minutes, the sensor ticks every minute too
        run_id = run_news(instance, T0 + timedelta(minutes=minute))
        first_run = first_run or run_id
        daemon.tick(T0 + timedelta(minutes=minute, seconds=30))
    messages = received(inbox)
    assert [m["subject"] for m in messages] == [
        "Run FAILED - news_job: The sentiment model is not at models/finbert: run make model first.",
        f"Run STILL FAILING - news_job: {QUIET_MINUTES} more failures",
        f"Run STILL FAILING - news_job: {QUIET_MINUTES} more failures",
    ]
    first = messages[0]["body"]
    error = "The sentiment model is not at models/finbert: run make model first."
    assert first.splitlines()[0] == f"news_job failed for partition {PARTITION}: {error}"
    assert f"Run: {UI}/runs/{first_run}" in first
    assert "Failed steps: poll_feeds" in first
    assert all("dagster._core" not in m["subject"] + m["body"] for m in messages)

    # The daemon restarts: all it has is the stored cursor. Four more failures are held back with the four after
    # the last digest (minutes 21-24) until the quiet period has passed.
    stored = daemon.cursor
    daemon = Daemon(instance, inbox, monkeypatch)
    daemon.cursor = stored
    for minute in range(25, 29):
        run_news(instance, T0 + timedelta(minutes=minute))
        daemon.tick(T0 + timedelta(minutes=minute, seconds=30))
    assert received(inbox) == []
    # No more runs for a quiet period: the tick sends the digest of what was held back.
    daemon.tick(T0 + timedelta(minutes=40, seconds=1))
    [digest] = received(inbox)
    assert digest["subject"] == "Run STILL FAILING - news_job: 8 more failures"
    daemon.tick(T0 + timedelta(minutes=41))
    assert received(inbox) == []

    # It works again: one message, then silence for further successes.
    ok = run_news(instance, T0 + timedelta(minutes=45), fail=False)
    daemon.tick(T0 + timedelta(minutes=45, seconds=30))
    run_news(instance, T0 + timedelta(minutes=46), fail=False)
    daemon.tick(T0 + timedelta(minutes=46, seconds=30))
    [recovered] = received(inbox)
    assert recovered["subject"] == "Run RECOVERED - news_job after 29 failures"
    assert f"{UI}/runs/{ok}" in recovered["body"]


def test_runs_with_their_own_notice_are_left_to_it(
    instance: dg.DagsterInstance, inbox: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = Daemon(instance, inbox, monkeypatch)
    daemon.tick(T0)
    with freeze_time(T0 + timedelta(minutes=1)):
        result = dg.materialize([fake_ttm_per_share], instance=instance, raise_on_error=False)
    assert not result.success
    daemon.tick(T0 + timedelta(minutes=2))
    assert received(inbox) == []
    # ... while any other job's failure is announced.
    run_news(instance, T0 + timedelta(minutes=3))
    daemon.tick(T0 + timedelta(minutes=4))
    assert [m["subject"][:22] for m in received(inbox)] == ["Run FAILED - news_job:"]


def test_finished_runs_are_read_in_order_and_none_is_skipped_across_pages(instance: dg.DagsterInstance) -> None:
    from ops_assets.run_events import run_changes_after

    expected = []
    for minute, fail in enumerate([True, False, True, True, False, True, False]):
        run_id = run_news(instance, T0 + timedelta(minutes=minute), fail=fail)
        expected.append((run_id, "FAILURE" if fail else "SUCCESS"))
    seen, after = [], -1
    for _ in range(10):  # two events per status per page: several pages
        changes, after = run_changes_after(instance, after, ["FAILURE", "SUCCESS"], limit=2)
        seen += [(change.run.run_id, change.status) for change in changes]
    assert seen == expected
