"""Set-based writes for the sink: one statement per table and batch, never one per row.

Rows of a table travel as one typed array per column and come back as a
relation with ``unnest($1::text[], $2::timestamptz[], ...) AS s(col, ...)``:
``INSERT ... SELECT ... ON CONFLICT`` and ``UPDATE ... FROM`` then apply a whole
batch in one round trip. Column types are read from the catalog once per table.

Conversations are merged with a correlated lookup of the batch's patch, which
needs an index: their patches are COPYed into ``stage_conversations``, a
temporary table of the connection (emptied at every commit), created once per
connection outside any transaction (a table created inside a transaction that
rolls back would be gone while the cache still believed in it). It is the only
temporary table: each one costs a truncation at every commit.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import asyncpg

CONVERSATION_COLUMNS = (
    "conversation_id", "workspace", "customer_id", "status", "channel", "pool", "agent_id",
    "opened_at", "resolved_at", "last_message_at", "merged_into", "tags", "triage",
    "updated_at", "agent_set",
)

_CREATE = """CREATE TEMP TABLE IF NOT EXISTS stage_conversations (
    conversation_id text PRIMARY KEY, workspace text, customer_id text, status text,
    channel text, pool text, agent_id text, opened_at timestamptz, resolved_at timestamptz,
    last_message_at timestamptz, merged_into text, tags text[], triage jsonb,
    updated_at timestamptz, agent_set boolean
) ON COMMIT DELETE ROWS"""

_ready: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()
_types: dict[str, dict[str, str]] = {}


async def ensure_staging(conn: asyncpg.Connection) -> None:
    """Create this connection's staging table (once; call it outside a transaction)."""
    if conn in _ready:
        return
    await conn.execute(_CREATE)
    if not conn.is_in_transaction():
        _ready.add(conn)


async def stage_conversations(conn: asyncpg.Connection,
                              records: Sequence[tuple[Any, ...]]) -> None:
    """COPY conversation patches into ``stage_conversations`` (caller's transaction)."""
    await conn.copy_records_to_table("stage_conversations", records=records,
                                     columns=list(CONVERSATION_COLUMNS))


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
