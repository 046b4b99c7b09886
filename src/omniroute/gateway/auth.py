"""Agent authentication: bearer tokens, stored hashed, and the two roles.

Tokens are random (256 bits) and shown once when issued; PostgreSQL keeps only
their SHA-256, so a database dump cannot be replayed as a token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from omniroute.gateway.problems import Unauthorized

TOKEN_PREFIX = "omr_"


class Role(StrEnum):
    """An agent works their own conversations; a supervisor sees and acts on all."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    agent_id: str
    role: Role

    @property
    def supervisor(self) -> bool:
        """True for supervisors."""
        return self.role is Role.SUPERVISOR


def issue_token() -> tuple[str, str]:
    """A new token and the hash to store."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None, query_token: str | None = None) -> str:
    """The token of a request: ``Authorization: Bearer …`` (or ``?token=`` for WebSockets)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return token.strip()
    if query_token:
        return query_token
    raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
