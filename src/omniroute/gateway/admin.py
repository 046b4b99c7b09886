"""Admin data the gateway relies on: agent tokens and canned responses (CLI-managed)."""

from __future__ import annotations

import asyncpg

from omniroute.gateway.auth import Role, issue_token


async def create_token(conn: asyncpg.Connection, agent_id: str, role: Role) -> str:
    """Issue a token for ``agent_id``; only its hash is stored. Returns the token (once)."""
    token, digest = issue_token()
    await conn.execute(
        "INSERT INTO agent_tokens (token_hash, agent_id, role) VALUES ($1, $2, $3)",
        digest, agent_id, role.value)
    return token


async def revoke_tokens(conn: asyncpg.Connection, agent_id: str) -> int:
    """Revoke every live token of an agent; returns how many."""
    status = await conn.execute(
        "UPDATE agent_tokens SET revoked_at = now() WHERE agent_id = $1 AND revoked_at IS NULL",
        agent_id)
    return int(status.split()[-1])


async def set_canned_response(conn: asyncpg.Connection, workspace: str, shortcut: str,
                              text: str) -> None:
    """Create or replace a canned response."""
    await conn.execute(
        """INSERT INTO canned_responses (workspace, shortcut, text) VALUES ($1, $2, $3)
           ON CONFLICT (workspace, shortcut) DO UPDATE SET text = EXCLUDED.text""",
        workspace, shortcut, text)
