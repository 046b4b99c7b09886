"""`omniroute agents` and `omniroute customers` against a real database."""

from __future__ import annotations

import asyncpg

from harness.cli import omniroute_env, run_omniroute


class TestAdminCommands:
    async def test_token_is_printed_once_and_stored_hashed(self, database_url: str) -> None:
        """The token goes to stdout; the database holds only a hash of it; revoke counts it."""
        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url)
        issued = run_omniroute("agents", "token", "ada", env=env)
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip()
        assert len(token) >= 32 and "\n" not in token
        conn = await asyncpg.connect(database_url)
        try:
            dump = str([tuple(r) for r in await conn.fetch("SELECT * FROM agent_tokens")])
        finally:
            await conn.close()
        assert "ada" in dump and token not in dump
        revoked = run_omniroute("agents", "revoke", "ada", env=env)
        assert revoked.returncode == 0 and "revoked 1 token(s) of ada" in revoked.stderr

    def test_unknown_customer_is_one_clear_line(self, database_url: str) -> None:
        """Export and erase of a customer history does not hold fail with one line, exit 1."""
        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url)
        for args in (("customers", "export", "cust-missing"),
                     ("customers", "erase", "cust-missing", "--yes")):
            result = run_omniroute(*args, env=env)
            assert result.returncode == 1, result.stderr
            assert result.stderr.strip() == "omniroute: no customer 'cust-missing' in history"
