"""The real PostgreSQL through asyncpg: migrations and plain reads and writes."""

from __future__ import annotations

import asyncpg
import pytest

from omniroute.errors import DatabaseError, MigrationError
from omniroute.infra.migrations import Migration, load_migrations, migrate
from omniroute.infra.postgres import connect


class TestMigrations:
    async def test_migrate_is_idempotent(self, database_url: str) -> None:
        """The template was migrated already: running again applies nothing and keeps the rows."""
        conn = await connect(database_url)
        try:
            assert await migrate(conn) == []
            versions = [
                r["version"]
                for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
            ]
            assert versions == [m.version for m in load_migrations()]
        finally:
            await conn.close()

    async def test_an_edited_migration_is_refused(self, database_url: str) -> None:
        """Changing a migration after it ran is an error that says what to do instead."""
        first = load_migrations()[0]
        edited = Migration(first.version, first.name, first.sql + "\n-- edited")
        conn = await connect(database_url)
        try:
            with pytest.raises(MigrationError, match="was changed after it was applied"):
                await migrate(conn, [edited])
        finally:
            await conn.close()

    async def test_a_failing_migration_leaves_nothing_behind(self, database_url: str) -> None:
        """A migration runs in one transaction: half of it is never applied."""
        broken = Migration(9999, "broken", "CREATE TABLE half_done (id int); SELECT 1/0;")
        conn = await connect(database_url)
        try:
            with pytest.raises(MigrationError, match="9999_broken failed"):
                await migrate(conn, [*load_migrations(), broken])
            assert await conn.fetchval("SELECT to_regclass('half_done')") is None
            assert (
                await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9999")
                == 0
            )
        finally:
            await conn.close()


class TestReadWrite:
    async def test_write_and_read_through_asyncpg(self, database_url: str) -> None:
        """The default workspace exists; a new one can be written and read back."""
        conn = await connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO workspaces (id, name) VALUES ($1, $2)", "acme", "ACME 고객지원"
            )
            rows = await conn.fetch("SELECT id, name FROM workspaces ORDER BY id")
            assert [(r["id"], r["name"]) for r in rows] == [
                ("acme", "ACME 고객지원"),
                ("default", "Default workspace"),
            ]
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute("INSERT INTO workspaces (id, name) VALUES ('Bad Id', 'x')")
        finally:
            await conn.close()

    async def test_unreachable_server_says_where_and_what_to_do(self) -> None:
        """A wrong URL fails fast with the server named (without its password) and the fix."""
        with pytest.raises(DatabaseError) as caught:
            await connect("postgresql://app:hunter2@127.0.0.1:1/omniroute", timeout=3)
        message = str(caught.value)
        assert "127.0.0.1:1" in message and "OMNIROUTE_DATABASE_URL" in message
        assert "hunter2" not in message
