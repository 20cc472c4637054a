"""Kill-switch events (trips, reminders, operator resets) and the EXPIRED recommendation status (issue 11).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Written by hand and frozen like 0001/0002. ``kill_switch_events`` is the dispatcher kill switch's audit trail:
when it tripped and was reminded of (so a halted dispatcher alerts once, then at an interval, not every tick)
and who reset it, why and when (the dispatcher counts failures only after the latest reset). The status CHECK
of ``dispatch_recommendations`` gains ``EXPIRED`` (a recommendation left PENDING past its day). On SQLite the
table is rebuilt by Alembic's batch mode; the foreign keys pointing at it are checked at commit
(``defer_foreign_keys``), when the rebuilt table carries the same ids again.
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


def _set_status_check(condition: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA defer_foreign_keys = ON")
    with op.batch_alter_table("dispatch_recommendations") as batch:
        batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.create_check_constraint(STATUS_CHECK, condition)


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
    _set_status_check(NEW_STATUSES)


def downgrade() -> None:
    op.execute("UPDATE dispatch_recommendations SET status = 'CANCELLED' WHERE status = 'EXPIRED'")
    _set_status_check(OLD_STATUSES)
    op.drop_table("kill_switch_events")
