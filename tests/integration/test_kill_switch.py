"""The kill switch as operators meet it, on the machine's PostgreSQL and a SQLite file (the ``store`` fixture).

The dispatcher asset halts and alerts once (not on every run), ``reset_kill_switch_job`` records who reset it and
why in ``kill_switch_events`` and the dispatcher resumes from that reset; recommendations left PENDING past their
day are expired with a reason; migration 0003 keeps the rows of a database at 0002.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from alembic import command

from ops_assets.signals import clock as signals_clock
from ops_assets.signals.assets import trade_executions
from ops_assets.signals.checks import no_pending_past_its_day
from ops_assets.signals.dispatch import dispatch_pending, utc_midnight
from ops_assets.signals.jobs import reset_kill_switch_job
from ops_assets.signals.risk import RiskLimits
from ops_assets.signals.settings import SignalSettings
from resources.central_schema import dispatch_executions, dispatch_recommendations, kill_switch_events
from resources.central_store import CentralStore
from resources.notifier import LocalOutboxNotifier, read_outbox
from tests.integration.test_dispatcher import add_bar, add_recommendations, history, statuses

pytestmark = pytest.mark.integration


# Four and a half minutes into a UTC day: the scenario needs four minutes of today's history, so a run against the
# wall clock right after midnight could not hold it. The signals domain's clock is set instead (clock.utc_now).
DAY_START = datetime(2026, 11, 20, tzinfo=UTC)


class Clock:
    """A settable stand-in for ``ops_assets.signals.clock.utc_now``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(DAY_START + timedelta(minutes=4, seconds=30))
    monkeypatch.setattr(signals_clock, "utc_now", fixed)
    return fixed


def dispatch(
    store: CentralStore, outbox: Path, clock: Clock, checks: Sequence[dg.AssetChecksDefinition] = ()
) -> dg.MaterializeResult:
    result = dg.materialize(
        [trade_executions, *checks],
        partition_key=clock().date().isoformat(),
        resources={
            "central_store": store,
            "signal_settings": SignalSettings(kill_switch_reminder_minutes=60),
            "notifier": LocalOutboxNotifier(outbox_path=str(outbox)),
        },
    )
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {check.check_key.name: True for check in checks}, "the run's checks pass after it"
    [materialization] = result.asset_materializations_for_node("trade_executions")
    return materialization


def reset(store: CentralStore, outbox: Path, **config: str) -> dg.ExecuteInProcessResult:
    return reset_kill_switch_job.execute_in_process(
        run_config={"ops": {"record_kill_switch_reset": {"config": config}}},
        resources={"central_store": store, "notifier": LocalOutboxNotifier(outbox_path=str(outbox))},
        raise_on_error=False,
    )


def events(store: CentralStore) -> list[sa.Row]:
    with store.connect() as conn:
        return conn.execute(sa.select(kill_switch_events).order_by(kill_switch_events.c.id)).all()


def test_halt_alerts_once_the_reset_job_records_who_and_why_and_the_dispatcher_resumes(
    store: CentralStore, tmp_path: Path, clock: Clock
) -> None:
    def at(seconds_ago: float) -> datetime:
        return clock() - timedelta(seconds=seconds_ago)

    outbox = tmp_path / "outbox.jsonl"
    add_bar(store, "AAA", at(240), 100.0)
    failing = add_recommendations(store, ["AAA", "AAA", "AAA"], start=at(200))
    # Three broker failures in a row trip the switch.
    dispatch_pending(store, now=at(180), limits=RiskLimits(), fail_on=lambda rec: True)
    assert {statuses(store)[i] for i in failing} == {"FAILED"}
    [waiting] = add_recommendations(store, ["AAA"], start=at(120), action="SELL")

    first = dispatch(store, outbox, clock)
    assert first.metadata["halted"].value is True
    clock.advance(60)
    dispatch(store, outbox, clock)  # still halted: no second alert
    assert [m["subject"] for m in read_outbox(outbox)] == ["Dispatcher HALTED - kill switch tripped"]
    assert [e.event for e in events(store)] == ["TRIPPED"]
    assert statuses(store)[waiting] == "PENDING"

    clock.advance(60)
    result = reset(store, outbox, operator="alice", reason="broker credentials rotated")
    assert result.success
    *_, resumed = read_outbox(outbox)
    assert resumed["subject"] == "Dispatcher RESUMED - kill switch reset by alice"
    assert "broker credentials rotated" in resumed["body"]
    trip, audit = events(store)
    assert (audit.event, audit.operator, audit.reason, audit.run_id) == (
        "RESET",
        "alice",
        "broker credentials rotated",
        result.run_id,
    )
    assert audit.at == clock() > trip.at

    # The bar the dispatcher fills at must be fresh (at most 15 min old).
    clock.advance(60)
    add_bar(store, "AAA", at(1), 101.0)
    after = dispatch(store, outbox, clock)
    assert statuses(store)[waiting] == "EXECUTED"
    assert after.metadata["halted"].value is False
    assert "| AAA | SELL |" in after.metadata["fills"].value
    summary = after.metadata["day_summary"].value
    assert "| status FAILED | 3 |" in summary
    assert "| fills | 1 |" in summary
    assert len(read_outbox(outbox)) == 2  # nothing more was sent


def test_the_reset_job_requires_operator_and_reason(store: CentralStore, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    with pytest.raises(dg.DagsterInvalidConfigError):
        reset_kill_switch_job.execute_in_process(
            run_config={"ops": {"record_kill_switch_reset": {"config": {"operator": "alice"}}}},
            resources={"central_store": store, "notifier": LocalOutboxNotifier(outbox_path=str(outbox))},
        )
    blank = reset(store, outbox, operator="alice", reason="   ")
    assert not blank.success
    assert "needs a reason" in blank.failure_data_for_node("record_kill_switch_reset").error.message
    assert events(store) == []
    assert read_outbox(outbox) == []


def test_pending_past_its_day_is_expired_with_a_reason_and_the_check_sees_lingering_ones(
    store: CentralStore, tmp_path: Path, clock: Clock
) -> None:
    yesterday = utc_midnight(clock()) - timedelta(hours=2)
    [old] = add_recommendations(store, ["BBB"], start=yesterday)
    lingering = no_pending_past_its_day(central_store=store)
    assert not lingering.passed
    assert lingering.metadata["pending_past_their_day"].value == 1

    # Right after midnight the dispatcher's run expires them, then its check (on trade_executions) evaluates:
    # it passes in the same run instead of warning about rows about to be expired.
    materialization = dispatch(store, tmp_path / "outbox.jsonl", clock, checks=[no_pending_past_its_day])
    assert materialization.metadata["expired"].value == 1
    assert statuses(store)[old] == "EXPIRED"
    [change] = [h for h in history(store) if h.recommendation_id == old]
    assert (change.from_status, change.to_status) == ("PENDING", "EXPIRED")
    assert change.reason.startswith(f"expired: still PENDING when its day ({yesterday.date().isoformat()}) ended")
    assert no_pending_past_its_day(central_store=store).passed


def test_migration_0003_keeps_the_rows_of_a_0002_database(store_url: str) -> None:
    store = CentralStore(url=store_url)
    config = store.alembic_config()
    with store._raw_engine().begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
    assert store.current_revision() == "0002"
    created = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    with store._raw_engine().begin() as conn:
        rec_id = conn.execute(
            dispatch_recommendations.insert()
            .values(
                ticker="AAA",
                created_at=created,
                action="BUY",
                reason="r",
                status="EXECUTED",
                input_fingerprint="fp-1",
            )
            .returning(dispatch_recommendations.c.id)
        ).scalar_one()
        conn.execute(
            dispatch_executions.insert().values(
                recommendation_id=rec_id,
                ticker="AAA",
                action="BUY",
                quantity=1,
                fill_price=100.0,
                notional=100.0,
                executed_at=created,
            )
        )
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(dispatch_recommendations.update().values(status="EXPIRED"))
    assert store.ensure_schema() == ["0003"]
    with store.begin() as conn:
        conn.execute(dispatch_recommendations.update().values(status="EXPIRED"))
        assert conn.execute(sa.select(dispatch_executions.c.recommendation_id)).scalars().all() == [rec_id]
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(dispatch_recommendations.update().values(status="LOST"))
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(kill_switch_events.insert().values(event="RESET", at=created, reason="no operator"))
    store.dispose()
