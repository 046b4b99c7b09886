"""Set-based writes for the sink: one statement per table and batch, never one per row.

Rows of a table travel as one array of the table's own row type and come back
as a relation with ``unnest($1::table[]) AS s``: ``INSERT ... SELECT ... ON
CONFLICT`` and ``UPDATE ... FROM`` then apply a whole batch in one round trip.
One array of rows rather than one typed array per column: asyncpg checks every
element of an array in Python (is it a nested array?), so a column array costs
~0.9 µs of the sink's CPU per value, a row array per row instead
(``bench/sink/bench_sink.py``: 6.4 ms → 2.8 ms of client CPU for 1,000 rows of
ten columns, and less work in PostgreSQL too). Column names are read from the
catalog once per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

_columns: dict[str, list[str]] = {}


async def column_names(conn: asyncpg.Connection, table: str) -> list[str]:
    """The columns of a table, in order (cached per table)."""
    if table not in _columns:
        rows = await conn.fetch(
            """SELECT attname FROM pg_attribute
               WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
               ORDER BY attnum""", table)
        _columns[table] = [r["attname"] for r in rows]
    return _columns[table]


async def relation(conn: asyncpg.Connection, table: str, records: Sequence[tuple[Any, ...]],
                   columns: Sequence[str] | None = None) -> tuple[str, list[Any]]:
    """``(SQL, arguments)``: the records as a relation ``s`` of the table's columns.

    Records hold every column of the table in order, or only ``columns`` (in that order):
    the others travel as NULL and the relation has only ``columns``."""
    names = await column_names(conn, table)
    if columns is None or list(columns) == names:
        return f"unnest($1::{table}[]) AS s", [records]
    where = {c: i for i, c in enumerate(columns)}
    picks = [where.get(c) for c in names]
    rows = [tuple(None if i is None else r[i] for i in picks) for r in records]
    return f"(SELECT {', '.join(columns)} FROM unnest($1::{table}[])) AS s", [rows]


async def insert_new(conn: asyncpg.Connection, table: str,
                     records: Sequence[tuple[Any, ...]]) -> None:
    """Insert whole rows of ``table`` in one statement, skipping keys already there."""
    if not records:
        return
    rows, args = await relation(conn, table, records)
    await conn.execute(f"INSERT INTO {table} SELECT * FROM {rows} ON CONFLICT DO NOTHING", *args)
