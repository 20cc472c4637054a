"""The model registry on the local object store: versions, the promotion gate, rejection and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_assets.forecasting.registry import NAIVE_VERSION, ModelCard, ModelRegistry, promotion_decision
from resources.object_store import LocalObjectStore


def card(kind: str = "lstm", mase: float = 0.95) -> ModelCard:
    return ModelCard(
        version=-1,
        kind=kind,
        config={"window": 20},
        data_start="2015-01-02",
        data_end="2026-11-27",
        data_hash="abc",
        metrics={"mase": mase},
        evaluation_window="2026-08-31..2026-11-27",
        code_version="test",
        created_at="2026-11-29T00:00:00+00:00",
        tickers=["AMZN"],
    )


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(LocalObjectStore(root=str(tmp_path / "objects")))


def test_the_naive_forecast_is_version_zero_and_champion_at_first(registry: ModelRegistry) -> None:
    assert registry.versions() == []
    assert registry.champion() == NAIVE_VERSION
    assert "naive forecast serves" in registry.champion_record()["reason"]


def test_versions_are_numbered_and_stored_with_their_card(registry: ModelRegistry) -> None:
    first = registry.register(b"weights-1", card())
    second = registry.register(b"weights-2", card(mase=0.9))
    assert (first.version, second.version) == (1, 2)
    assert registry.versions() == [1, 2]
    assert registry.model_bytes(2) == b"weights-2"
    assert registry.card(2).metrics == {"mase": 0.9}
    assert [e["kind"] for e in registry.events()] == ["registered", "registered"]


def test_the_gate_needs_the_margin() -> None:
    assert promotion_decision(0.94, 1.0, 0.05).promote
    assert not promotion_decision(0.96, 1.0, 0.05).promote
    assert not promotion_decision(1.2, 1.0, 0.0).promote
    assert "needed < 0.9500" in promotion_decision(0.96, 1.0, 0.05).reason


def test_promotion_rejection_and_rollback_are_recorded(registry: ModelRegistry) -> None:
    one = registry.register(b"1", card()).version
    registry.promote(one, "beats naive")
    two = registry.register(b"2", card()).version
    registry.reject(two, "not better")
    three = registry.register(b"3", card()).version
    registry.promote(three, "beats v1")
    assert registry.champion() == three

    assert registry.rollback("live errors too high") == one
    assert registry.champion() == one
    assert registry.rollback("again") == NAIVE_VERSION
    assert registry.champion() == NAIVE_VERSION
    kinds = [(e["kind"], e["version"]) for e in registry.events() if e["kind"] != "registered"]
    assert kinds == [("promoted", 1), ("rejected", 2), ("promoted", 3), ("rolled_back", 1), ("rolled_back", 0)]


def test_the_rollback_job_restores_the_previous_champion_and_says_why(tmp_path: Path) -> None:

    from ops_assets.forecasting.jobs import forecast_rollback_job
    from resources.notifier import LocalOutboxNotifier

    store = LocalObjectStore(root=str(tmp_path / "objects"))
    registry = ModelRegistry(store)
    for _ in range(2):
        registry.promote(registry.register(b"x", card()).version, "beats the champion")
    resources = {"object_store": store, "notifier": LocalOutboxNotifier(outbox_path=str(tmp_path / "outbox.jsonl"))}
    run_config = {"ops": {"rollback_champion": {"config": {"reason": "live errors doubled"}}}}

    result = forecast_rollback_job.execute_in_process(run_config=run_config, resources=resources)

    assert result.success
    assert registry.champion() == 1
    assert registry.events()[-1]["reason"].startswith("from version 2: live errors doubled (run ")
    assert "Forecast model ROLLED BACK - version 2 -> 1" in (tmp_path / "outbox.jsonl").read_text()
    refused = forecast_rollback_job.execute_in_process(
        run_config={"ops": {"rollback_champion": {"config": {"reason": "  "}}}},
        resources=resources,
        raise_on_error=False,
    )
    assert not refused.success
    assert registry.champion() == 1
