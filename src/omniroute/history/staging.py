"""Set-based writes for the sink: one COPY and one merge per table and batch.

Rows of a table are COPYed (binary) into ``stage_<table>``, a temporary table
of the connection shaped like the target (``LIKE``, emptied at every commit),
and merged with one ``INSERT ... SELECT ... ON CONFLICT``. COPY is the cheapest
way into PostgreSQL for both sides: binding the same rows as typed arrays for
``unnest`` cost asyncpg an ``isinstance`` per value and was the largest part of
the sink's time (bench/sink). The staging tables of :data:`STAGED` are created
once per connection outside any transaction (a table created inside a
transaction that rolls back would be gone while the cache still believed in
it); any other table's is created on use (``IF NOT EXISTS``, not cached). Each
table is staged at most once per transaction.

Rare paths (completing known messages) still bind typed arrays with
:func:`relation`: ``unnest($1::text[], ...) AS s(col, ...)``. Column types are
read from the catalog once per table.

Conversations are merged with a correlated lookup of the batch's patch, which
needs an index: their patches go to ``stage_conversations``, which has one.
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

STAGED = (
    "processed_events", "customers", "customer_addresses", "attachments",
    "conversation_events", "conversation_notes", "csat_ratings", "delivery_statuses",
    "assignments", "agent_events", "agent_presence", "identity_links", "dead_letters",
)
"""Tables the sink writes through a staging table created with the connection's first batch."""

_ready: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()
_types: dict[str, dict[str, str]] = {}


def _create_like(table: str) -> str:
    return (f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} (LIKE {table} INCLUDING DEFAULTS)"
            " ON COMMIT DELETE ROWS")


async def ensure_staging(conn: asyncpg.Connection) -> None:
    """Create this connection's staging tables (once; call it outside a transaction)."""
    if conn in _ready:
        return
    await conn.execute(";".join([_CREATE, *(_create_like(t) for t in STAGED)]))
    if not conn.is_in_transaction():
        _ready.add(conn)


async def stage(conn: asyncpg.Connection, table: str, records: Sequence[tuple[Any, ...]],
                columns: Sequence[str] | None = None) -> str:
    """COPY ``records`` into ``stage_<table>`` (caller's transaction); return its name."""
    if table not in STAGED or conn not in _ready:
        await conn.execute(_create_like(table))
    name = f"stage_{table}"
    await conn.copy_records_to_table(name, records=records,
                                     columns=list(columns or await column_types(conn, table)))
    return name


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
    """Insert whole rows of ``table`` (one COPY, one statement), skipping keys already there."""
    if not records:
        return
    staged = await stage(conn, table, records)
    await conn.execute(f"INSERT INTO {table} SELECT * FROM {staged} ON CONFLICT DO NOTHING")
