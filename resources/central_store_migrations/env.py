"""Alembic environment for the central store.

``CentralStore.ensure_schema()`` passes an open connection (already inside a transaction, holding the
migration lock) in ``config.attributes["connection"]``; the Alembic CLI path opens its own connection from
the ``sqlalchemy.url`` option instead. Offline mode (``--sql``) renders the DDL for review.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from resources.central_schema import metadata

config = context.config
target_metadata = metadata


def _record_applied(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    applied = config.attributes.get("applied_revisions")
    if applied is not None and step.is_upgrade:
        applied.append(step.up_revision_id)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=_record_applied,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # The caller owns the transaction; begin_transaction() below joins it rather than committing.
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
