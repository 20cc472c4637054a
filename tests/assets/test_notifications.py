"""The weekly run's SUCCESS / FAILURE notifications, from real runs on a real (SQLite) instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ops_assets.fundamentals.sensors import fundamentals_failure_notification, fundamentals_success_notification
from resources.notifier import LocalOutboxNotifier, read_outbox
from resources.sample_sources import alpha_vantage as sample
from tests.assets.conftest import PARTITION, materialize_week


def run_event(instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType) -> dg.DagsterEvent:
    [record] = instance.get_records_for_run(run_id, of_type=event_type).records
    return record.event_log_entry.dagster_event


def test_success_notification_names_artifact_tickers_rows_and_failures(local_av, local_env: Path, instance) -> None:
    result = materialize_week(instance)
    assert result.success
    outbox = local_env / "outbox.jsonl"
    context = dg.build_run_status_sensor_context(
        sensor_name="fundamentals_success_notification",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        dagster_event=run_event(instance, result.run_id, dg.DagsterEventType.RUN_SUCCESS),
        resources={"notifier": LocalOutboxNotifier(outbox_path=str(outbox))},
    )
    fundamentals_success_notification(context)

    [message] = read_outbox(outbox)
    assert message["subject"] == f"Financial Pipeline SUCCESS - {PARTITION}"
    body = message["body"]
    assert f"ttm-artifacts/{PARTITION}/ttm_per_share_financial_artifact.parquet" in body
    assert f"Tickers: {len(sample.SampleAlphaVantageData().tickers) - 1}" in body
    assert "Rows: " in body
    assert "Duration: " in body
    assert f"  - {sample.ERROR_TICKER}: " in body


def test_failure_notification_carries_the_error(local_av, local_env: Path, instance, monkeypatch) -> None:
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "bad-key")
    result = materialize_week(instance)
    assert not result.success
    outbox = local_env / "outbox.jsonl"
    context = dg.build_run_status_sensor_context(
        sensor_name="fundamentals_failure_notification",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        dagster_event=run_event(instance, result.run_id, dg.DagsterEventType.RUN_FAILURE),
        resources={"notifier": LocalOutboxNotifier(outbox_path=str(outbox))},
    ).for_run_failure()
    fundamentals_failure_notification(context)

    [message] = read_outbox(outbox)
    assert message["subject"] == f"Financial Pipeline FAILURE - {PARTITION}"
    assert "rejected the API key as invalid or missing" in message["body"]
    assert "bad-key" not in message["body"]
