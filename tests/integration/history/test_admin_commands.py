"""`omniroute agents` and `omniroute customers` against a real database."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from harness.cli import omniroute_env, run_omniroute
from integration.history.factories import T0, added, inbound, opened
from omniroute.contract import CustomerEvent, CustomerEventKind
from omniroute.history.store import write_batch


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

    async def test_an_id_merged_away_stands_for_its_whole_customer(
            self, database_url: str) -> None:
        """User run 59: the DPO found Jo by his web chat address, under the visitor's own id,
        which identity had merged into the customer agents saw. Erasing that id erased the
        visitor's two messages and left Jo's SMS conversation. Export and erase of an id
        merged away now take the customer it is part of, and every id merged into it."""
        visitor = inbound(41, text="VISITOR-TEXT blender", sender="id:jo-77")
        sms = inbound(42, text="SMS-TEXT the box too", sender="+15550005501")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [  # type: ignore[arg-type]
                ("conversations", opened("cv", "cus-visitor")), ("inbound", visitor),
                ("conversations", added(visitor, conversation="cv", customer="cus-visitor")),
                ("conversations", opened("cj", "cus-jo")), ("inbound", sms),
                ("conversations", added(sms, conversation="cj", customer="cus-jo")),
                ("customers", CustomerEvent(
                    event_id="link.customer-merged.cus-visitor", customer_id="cus-visitor",
                    kind=CustomerEventKind.MERGED, merged_into="cus-jo",
                    occurred_at=T0 + timedelta(hours=1)))])
            env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url)
            exported = run_omniroute("customers", "export", "cus-visitor", env=env)
            assert exported.returncode == 0, exported.stderr
            assert "SMS-TEXT" in exported.stdout and "VISITOR-TEXT" in exported.stdout
            erased = run_omniroute("customers", "erase", "cus-visitor", "--yes", "--no-topics",
                                   env=env)
            assert erased.returncode == 0, erased.stderr
            assert "cus-visitor is part of customer cus-jo" in erased.stderr
            assert await conn.fetchval("SELECT count(*) FROM messages WHERE text LIKE '%-TEXT%'"
                                       " OR customer_id IN ('cus-jo', 'cus-visitor')") == 0
            assert await conn.fetchval("SELECT count(*) FROM customers") == 0
        finally:
            await conn.close()
