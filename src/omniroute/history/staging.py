"""Set-based writes for the sink: one statement per table and batch, never one per row.

Rows of a table travel as one typed array per column and come back as a
relation with ``unnest($1::text[], $2::timestamptz[], ...) AS s(col, ...)``:
``INSERT ... SELECT ... ON CONFLICT`` and ``UPDATE ... FROM`` then apply a whole
batch in one round trip. Column types are read from the catalog once per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

_types: dict[str, dict[str, str]] = {}


async def column_types(conn: asyncpg.Connection, table: str) -> dict[str, str]:
    """``{column: SQL type}`` of a table, in column order (cached per table)."""
    if table not in _types:
        rows = await conn.fetch(
            """SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
               WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
               ORDER BY attnum""", table)
        _types[table] = {r["attname"]: r["type"] for r in rows}
    return _types[table]


async def relation(conn: asyncpg.Connection, table: str, records: Sequence[tuple[Any, ...]],
                   columns: Sequence[str] | None = None) -> tuple[str, list[list[Any]]]:
    """``(SQL, arguments)``: the records as a relation ``s`` with the table's column types."""
    types = await column_types(conn, table)
    names = list(columns or types)
    arrays = [f"${i + 1}::{types[c]}[]" for i, c in enumerate(names)]
    sql = f"unnest({', '.join(arrays)}) AS s({', '.join(names)})"
    return sql, [list(column) for column in zip(*records, strict=True)]


async def insert_new(conn: asyncpg.Connection, table: str,
                     records: Sequence[tuple[Any, ...]]) -> None:
    """Insert whole rows of ``table`` in one statement, skipping keys already there."""
    if not records:
        return
    rows, args = await relation(conn, table, records)
    await conn.execute(f"INSERT INTO {table} SELECT * FROM {rows} ON CONFLICT DO NOTHING", *args)
