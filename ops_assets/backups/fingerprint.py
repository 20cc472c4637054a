"""Per-table row counts and key-column checksums, read the same way at dump time and after a restore.

Plain functions, no Dagster. The key of a table is its natural key: its first UNIQUE constraint (by name), else
its primary key, else all its columns; for the central store's tables that is ``event_uid``,
``input_fingerprint``, ``(ticker, ts)``, ... (see ``resources.central_schema``). The tables are found by
reflection, so a table added by a later migration is covered without a change here.

The checksum is order-independent: the sum modulo 2**128 of the md5 of each row's key values. No ORDER BY means
no sort on the server and no dependence on the database's collation (a scratch database created from a different
template could sort text differently), while a lost, added or altered key still changes the sum. It detects
accidental damage, which is what a restore drill needs; it is not meant to resist someone forging rows.

On PostgreSQL the server computes it (md5 of each row's key text, summed in four 32-bit parts): a million rows take
about a second there, against ~10 s streamed through Python. Text forms of timestamps and floats are pinned for the
transaction (``TimeZone`` UTC, ISO dates, ``extra_float_digits``), so a session default cannot change the sum.
SQLite has no md5: Python computes the same sum over the values the driver returns. A checksum is compared only
with one from the same engine (the drill restores a PostgreSQL dump on PostgreSQL, a SQLite file as SQLite).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ops_assets.backups.manifest import TableFingerprint

_MOD = 1 << 128
FETCH_ROWS = 20_000


def key_columns(inspector: Any, table: str) -> tuple[str, ...]:
    """The natural key: first UNIQUE constraint by name, else the primary key, else every column."""
    uniques = sorted(
        (u for u in inspector.get_unique_constraints(table) if u.get("column_names")),
        key=lambda u: u.get("name") or "",
    )
    if uniques:
        return tuple(uniques[0]["column_names"])
    primary = inspector.get_pk_constraint(table).get("constrained_columns") or []
    if primary:
        return tuple(primary)
    return tuple(c["name"] for c in inspector.get_columns(table))


def render(value: Any) -> str:
    """A key value as text; NULL as ``\\N`` (as COPY writes it), so NULL and the string 'None' differ."""
    if value is None:
        return "\\N"
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def rows_checksum(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """(row count, checksum) of key tuples: sum of md5(tab-joined values) modulo 2**128, as 32 hex digits."""
    total = 0
    count = 0
    for row in rows:
        line = "\t".join(render(v) for v in row).encode()
        total = (total + int.from_bytes(hashlib.md5(line, usedforsecurity=False).digest(), "big")) % _MOD
        count += 1
    return count, f"{total:032x}"


def fingerprint_tables(conn: Connection, *, schema: str | None = None) -> dict[str, TableFingerprint]:
    """Every table's row count and key checksum, read through ``conn`` (in its transaction, if one is open).

    Rows are streamed (server-side cursor on PostgreSQL), so a million rows take little memory.
    """
    inspector = sa.inspect(conn)
    result: dict[str, TableFingerprint] = {}
    for name in sorted(inspector.get_table_names(schema=schema)):
        if name.startswith("sqlite_"):
            continue
        keys = key_columns(inspector, name)
        if conn.dialect.name == "postgresql":
            count, checksum = _postgres_checksum(conn, name, keys, schema)
        else:
            stmt = sa.select(*(sa.column(k) for k in keys)).select_from(sa.table(name, schema=schema))
            rows = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(stmt)
            count, checksum = rows_checksum(rows)
        result[name] = TableFingerprint(rows=count, key_columns=keys, key_checksum=checksum)
    return result


_PG_TEXT_SETTINGS = (
    "SET LOCAL TimeZone TO 'UTC'",
    "SET LOCAL DateStyle TO 'ISO, YMD'",
    "SET LOCAL extra_float_digits TO 3",
)


def _postgres_checksum(conn: Connection, table: str, keys: Sequence[str], schema: str | None) -> tuple[int, str]:
    """Row count and the same kind of sum, computed by the server: md5 per row, summed in 32-bit parts."""
    for statement in _PG_TEXT_SETTINGS:
        conn.exec_driver_sql(statement)
    quote = conn.dialect.identifier_preparer.quote
    target = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
    line = "concat_ws(E'\\t', " + ", ".join(f"coalesce({quote(k)}::text, '\\N')" for k in keys) + ")"
    # 'x' + 16 hex digits cast to bit(64) then bigint; the leading zeros keep every part non-negative.
    parts = ", ".join(
        f"coalesce(sum(('x00000000' || substr(h, {1 + 8 * i}, 8))::bit(64)::bigint), 0)" for i in range(4)
    )
    sql = f"SELECT count(*), {parts} FROM (SELECT md5({line}) AS h FROM {target}) AS rows"
    count, *sums = conn.exec_driver_sql(sql).one()
    total = 0
    for part in sums:
        total = ((total << 32) + int(part)) % _MOD
    return int(count), f"{total:032x}"
