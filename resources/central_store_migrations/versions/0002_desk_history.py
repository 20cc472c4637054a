"""Trading-desk feed history: market data, EOD, SOD and TT working-order snapshots (issue 9).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Written by hand and frozen like 0001 (it does not import the live table definitions). The tables have the seed's
DynamoDB keys; decimals are ``NUMERIC`` on PostgreSQL and their exact text on SQLite (SQLite's NUMERIC affinity
would round them to 15 significant digits), as ``resources.central_schema.ExactDecimal`` reads and writes them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Ts = sa.DateTime(timezone=True)
Dec = sa.Numeric().with_variant(sa.Text(), "sqlite")
EPOCH_MS = "The data's own time, epoch milliseconds"


def _provenance() -> list[sa.Column]:
    return [
        sa.Column("arrived_at", Ts, nullable=False, comment="When the file landed in the bucket"),
        sa.Column("source_key", sa.Text(), nullable=False, comment="The bucket key of the file the row came from"),
        sa.Column("etag", sa.Text(), nullable=False, comment="That file's ETag"),
    ]


def upgrade() -> None:
    op.create_table(
        "desk_market_history",
        sa.Column("instrument_id", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False, comment=EPOCH_MS),
        sa.Column("price", Dec, nullable=False),
        sa.Column("bid", Dec, nullable=True),
        sa.Column("ask", Dec, nullable=True),
        sa.Column("volume", Dec, nullable=True),
        *_provenance(),
        sa.PrimaryKeyConstraint("instrument_id", "timestamp", name="pk_desk_market_history"),
    )
    op.create_index("ix_desk_market_history_source_key", "desk_market_history", ["source_key"])

    op.create_table(
        "desk_eod_history",
        sa.Column("instrument_id", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False, comment=EPOCH_MS),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("position", Dec, nullable=False),
        sa.Column("settlement_price", Dec, nullable=True),
        sa.Column("delta", Dec, nullable=True),
        sa.Column("gamma", Dec, nullable=True),
        sa.Column("vega", Dec, nullable=True),
        sa.Column("theta", Dec, nullable=True),
        *_provenance(),
        sa.PrimaryKeyConstraint("instrument_id", "timestamp", name="pk_desk_eod_history"),
    )
    op.create_index("ix_desk_eod_history_source_key", "desk_eod_history", ["source_key"])

    op.create_table(
        "desk_sod_history",
        sa.Column("account_date", sa.Text(), nullable=False, comment="<account>#<YYYY-MM-DD>"),
        sa.Column("instrument_id", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("position", Dec, nullable=False),
        sa.Column("avg_price", Dec, nullable=True),
        *_provenance(),
        sa.PrimaryKeyConstraint("account_date", "instrument_id", name="pk_desk_sod_history"),
    )
    op.create_index("ix_desk_sod_history_source_key", "desk_sod_history", ["source_key"])

    op.create_table(
        "desk_order_snapshots",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False, comment="The snapshot's time, epoch milliseconds"),
        sa.Column("instrument", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("qty", Dec, nullable=False),
        sa.Column("price", Dec, nullable=True, comment="NULL for orders without a limit price"),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("expire_time", sa.BigInteger(), nullable=False, comment="Epoch seconds: snapshot + 7 days (TTL)"),
        sa.Column("source_key", sa.Text(), nullable=False, comment="The bucket key of the snapshot file"),
        sa.PrimaryKeyConstraint("order_id", "timestamp", name="pk_desk_order_snapshots"),
    )
    op.create_index("ix_desk_order_snapshots_source_key", "desk_order_snapshots", ["source_key"])
    op.create_index("ix_desk_order_snapshots_expire_time", "desk_order_snapshots", ["expire_time"])


def downgrade() -> None:
    op.drop_table("desk_order_snapshots")
    op.drop_table("desk_sod_history")
    op.drop_table("desk_eod_history")
    op.drop_table("desk_market_history")
