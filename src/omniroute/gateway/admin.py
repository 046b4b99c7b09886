"""Admin data the gateway relies on: agent tokens, canned responses and the audit log.

Tokens are issued by ``omniroute agents token`` or an admin through the API;
each issue and revocation is written to ``audit_log`` (who, when, what).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from omniroute.gateway.auth import Principal, Role, issue_token, token_id
from omniroute.gateway.problems import BadRequest, NotFound

SYSTEM_ACTOR = "cli"
"""The actor recorded for changes made from the command line."""


async def audit(conn: asyncpg.Connection | asyncpg.Pool, actor: str, action: str, subject: str,
                detail: dict[str, Any]) -> None:
    """Record one administrative change."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)",
        actor, action, subject, json.dumps(detail, default=str))


async def record_action(pool: asyncpg.Pool, who: Principal, action: str, subject: str,
                        detail: dict[str, Any]) -> None:
    """Audit an action a supervisor or admin took through the gateway."""
    async with pool.acquire() as conn:
        await audit(conn, f"{who.role.value}:{who.agent_id}", action, subject, detail)


async def create_token(conn: asyncpg.Connection, agent_id: str, role: Role, *,
                       expires_in: timedelta | None = None, issued_by: str = SYSTEM_ACTOR,
                       label: str | None = None) -> str:
    """Issue a token for ``agent_id``; only its hash is stored. Returns the token (once)."""
    token, digest = issue_token()
    expires_at: datetime | None = await conn.fetchval(
        """INSERT INTO agent_tokens (token_hash, agent_id, role, expires_at, issued_by, label)
           VALUES ($1, $2, $3, now() + $4::interval, $5, $6) RETURNING expires_at""",
        digest, agent_id, role.value, expires_in, issued_by, label)
    await audit(conn, issued_by, "token.issued", agent_id, {
        "token_id": token_id(digest), "role": role.value,
        "expires_at": expires_at.isoformat() if expires_at else None, "label": label})
    return token


async def list_tokens(conn: asyncpg.Connection | asyncpg.Pool,
                      agent_id: str | None = None) -> list[dict[str, Any]]:
    """Every token (of one agent), newest first, with its state; never the token itself."""
    rows = await conn.fetch(
        """SELECT left(token_hash, 12) AS token_id, agent_id, role, label, created_at,
                  expires_at, revoked_at, issued_by, revoked_by,
                  CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
                       WHEN expires_at IS NOT NULL AND expires_at <= now() THEN 'expired'
                       ELSE 'active' END AS state
           FROM agent_tokens WHERE $1::text IS NULL OR agent_id = $1
           ORDER BY created_at DESC""", agent_id)
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
            for r in rows]


async def revoke_tokens(conn: asyncpg.Connection, agent_id: str, *,
                        by: str = SYSTEM_ACTOR) -> int:
    """Revoke every live token of an agent; returns how many."""
    status = await conn.execute(
        "UPDATE agent_tokens SET revoked_at = now(), revoked_by = $2 "
        "WHERE agent_id = $1 AND revoked_at IS NULL", agent_id, by)
    count = int(status.split()[-1])
    if count:
        await audit(conn, by, "token.revoked", agent_id, {"count": count})
    return count


async def revoke_token(conn: asyncpg.Connection, token: str, *, by: str = SYSTEM_ACTOR) -> str:
    """Revoke one token by its id (the first 12+ hex digits of its hash); returns its agent."""
    if len(token) < 8 or any(c not in "0123456789abcdef" for c in token):
        raise BadRequest(f"{token!r} is not a token id (hex, at least 8 digits)")
    rows = await conn.fetch(
        "SELECT token_hash, agent_id, revoked_at FROM agent_tokens WHERE token_hash LIKE $1",
        token + "%")
    if not rows:
        raise NotFound(f"no token with id {token!r}")
    if len(rows) > 1:
        raise BadRequest(f"token id {token!r} is ambiguous: give more digits")
    row = rows[0]
    if row["revoked_at"] is None:
        await conn.execute("UPDATE agent_tokens SET revoked_at = now(), revoked_by = $2 "
                           "WHERE token_hash = $1", row["token_hash"], by)
        await audit(conn, by, "token.revoked", row["agent_id"],
                    {"token_id": token_id(row["token_hash"])})
    agent: str = row["agent_id"]
    return agent


async def set_canned_response(conn: asyncpg.Connection, workspace: str, shortcut: str,
                              text: str) -> None:
    """Create or replace a canned response."""
    await conn.execute(
        """INSERT INTO canned_responses (workspace, shortcut, text) VALUES ($1, $2, $3)
           ON CONFLICT (workspace, shortcut) DO UPDATE SET text = EXCLUDED.text""",
        workspace, shortcut, text)
