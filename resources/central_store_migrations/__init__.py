"""Alembic migrations of the central store (tables in :mod:`resources.central_store`).

Applied automatically by ``CentralStore.ensure_schema()`` (first use of the resource); no alembic.ini is needed.
To add a revision: change the tables in ``resources/central_store.py``, then draft the migration against a
scratch SQLite database that is at head::

    .venv/bin/python -c "
    from alembic import command; from resources.central_store import CentralStore
    store = CentralStore(url='sqlite:////tmp/central_draft.db'); store.ensure_schema()
    command.revision(store.alembic_config(), message='what it does', rev_id='0002', autogenerate=True)"

and review/hand-edit the file it writes to ``versions/`` (rename it ``0002_what_it_does.py``). Migrations
must run on PostgreSQL and SQLite; env.py turns on batch mode ("move and copy") for SQLite's ALTER TABLE.
"""
