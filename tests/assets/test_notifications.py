"""The weekly run's SUCCESS / FAILURE notifications, from real runs on a real (SQLite) instance, through the real
sensors evaluated tick by tick with their cursor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ops_assets.definitions import defs
from ops_assets.fundamentals.sensors import fundamentals_failure_notification, fundamentals_success_notification
from resources.notifier import LocalOutboxNotifier, read_outbox
from resources.sample_sources import alpha_vantage as sample
from tests.assets.conftest import PARTITION, materialize_week


class Ticks:
    """Evaluates a sensor like the daemon: each tick with the cursor the previous one left."""

    def __init__(self, sensor: dg.SensorDefinition, instance: dg.DagsterInstance, outbox: Path) -> None:
        self.sensor, self.instance, self.outbox = sensor, instance, outbox
        self.cursor: str | None = None

    def tick(self) -> None:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            sensor_name=self.sensor.name,
            repository_def=defs.get_repository_def(),
            resources={"notifier": LocalOutboxNotifier(outbox_path=str(self.outbox))},
        )
        self.sensor(context)
        self.cursor = context.cursor


def run_log(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.message or "" for entry in instance.all_logs(run_id)]


def test_success_notification_names_artifact_tickers_rows_and_failures(local_av, local_env: Path, instance) -> None:
    outbox = local_env / "outbox.jsonl"
    success = Ticks(fundamentals_success_notification, instance, outbox)
    success.tick()  # the first tick starts watching
    other = dg.materialize([_unrelated], instance=instance)
    result = materialize_week(instance)
    assert result.success
    success.tick()
    success.tick()  # nothing new: nothing sent twice

    [message] = read_outbox(outbox)
    assert message["subject"] == f"Financial Pipeline SUCCESS - {PARTITION}"
    body = message["body"]
    assert f"ttm-artifacts/{PARTITION}/ttm_per_share_financial_artifact.parquet" in body
    published = [t for t in sample.SampleAlphaVantageData().tickers if t != sample.ERROR_TICKER]
    assert f"Tickers: {len(published)}" in body
    # The tickers themselves are listed, as the README says.
    assert all(ticker in body for ticker in published)
    assert "Rows: " in body
    assert "Duration: " in body
    assert f"  - {sample.ERROR_TICKER}: " in body
    # The fundamentals run's log says the notice went out; another run's log says nothing about this sensor.
    assert any("fundamentals_success_notification" in line for line in run_log(instance, result.run_id))
    assert not any("fundamentals_success_notification" in line for line in run_log(instance, other.run_id))


@dg.asset(name="unrelated_news_like_asset")
def _unrelated() -> None:
    """Stands in for a news or signals run: the fundamentals sensors must not appear in its log."""


def test_failure_notification_carries_the_error(local_av, local_env: Path, instance, monkeypatch) -> None:
    outbox = local_env / "outbox.jsonl"
    failure = Ticks(fundamentals_failure_notification, instance, outbox)
    failure.tick()
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "bad-key")
    result = materialize_week(instance)
    assert not result.success
    failure.tick()

    [message] = read_outbox(outbox)
    assert message["subject"] == f"Financial Pipeline FAILURE - {PARTITION}"
    assert "rejected the API key as invalid or missing" in message["body"]
    assert "bad-key" not in message["body"]
    error_line = next(line for line in message["body"].splitlines() if line.startswith("Error: "))
    assert "dagster._core" not in error_line
