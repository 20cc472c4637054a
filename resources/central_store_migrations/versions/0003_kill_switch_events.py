"""Kill-switch events (trips, reminders, operator resets) and the EXPIRED recommendation status (issue 11).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Written by hand and frozen like 0001/0002. ``kill_switch_events`` is the dispatcher kill switch's audit trail:
when it tripped and was reminded of (so a halted dispatcher alerts once, then at an interval, not every tick)
and who reset it, why and when (the dispatcher counts failures only after the latest reset). The status CHECK
of ``dispatch_recommendations`` gains ``EXPIRED`` (a recommendation left PENDING past its day).

SQLite cannot alter a CHECK constraint, and rebuilding the table (Alembic's batch mode) would orphan the rows of
``dispatch_executions`` / ``dispatch_status_history`` pointing at it: foreign keys cannot be switched off inside
the migration's transaction. A CHECK constraint does not change how rows are stored, so on SQLite its text is
edited in the schema itself, the way SQLite's documentation describes for such changes ("Making Other Kinds Of
Table Schema Changes": ``PRAGMA writable_schema``, then a ``schema_version`` bump so every connection re-reads
it); the edit is verified and the migration fails rather than half-applies.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Ts = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_STATUSES = "status IN ('PENDING', 'EXECUTED', 'REJECTED', 'FAILED', 'CANCELLED')"
NEW_STATUSES = "status IN ('PENDING', 'EXECUTED', 'REJECTED', 'FAILED', 'CANCELLED', 'EXPIRED')"
STATUS_CHECK = "ck_dispatch_recommendations_status"


def _set_status_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(STATUS_CHECK, "dispatch_recommendations", type_="check")
        op.create_check_constraint(STATUS_CHECK, "dispatch_recommendations", new)
        return
    table = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'dispatch_recommendations'"
    before = bind.exec_driver_sql(table).scalar_one()
    if f"CHECK ({old})" not in before:
        raise RuntimeError(f"dispatch_recommendations has no CHECK ({old}); its schema was changed by hand: {before}")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'dispatch_recommendations'"),
        {"sql": before.replace(f"CHECK ({old})", f"CHECK ({new})")},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    if f"CHECK ({new})" not in bind.exec_driver_sql(table).scalar_one():
        raise RuntimeError("The status CHECK of dispatch_recommendations could not be changed.")


def upgrade() -> None:
    op.create_table(
        "kill_switch_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event", sa.Text(), nullable=False, comment="TRIPPED, REMINDED or RESET"),
        sa.Column("at", Ts, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, comment="Why it tripped, or the operator's reason to reset"),
        sa.Column("operator", sa.Text(), nullable=True, comment="Who reset it (RESET only)"),
        sa.Column("run_id", sa.Text(), nullable=True, comment="The Dagster run that recorded the event"),
        sa.PrimaryKeyConstraint("id", name="pk_kill_switch_events"),
        sa.CheckConstraint("event IN ('TRIPPED', 'REMINDED', 'RESET')", name="ck_kill_switch_events_event"),
        sa.CheckConstraint(
            "event <> 'RESET' OR (operator IS NOT NULL AND operator <> '')", name="ck_kill_switch_events_reset_operator"
        ),
    )
    op.create_index("ix_kill_switch_events_event_at", "kill_switch_events", ["event", "at"])
    op.create_index("ix_kill_switch_events_at", "kill_switch_events", ["at"])
    _set_status_check(OLD_STATUSES, NEW_STATUSES)


def downgrade() -> None:
    op.execute("UPDATE dispatch_recommendations SET status = 'CANCELLED' WHERE status = 'EXPIRED'")
    _set_status_check(NEW_STATUSES, OLD_STATUSES)
    op.drop_table("kill_switch_events")
