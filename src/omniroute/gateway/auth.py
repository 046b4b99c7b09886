"""Agent authentication: bearer tokens, stored hashed, and the three roles.

Tokens are random (256 bits) and shown once when issued; PostgreSQL keeps only
their SHA-256, so a database dump cannot be replayed as a token. A token may
expire (``--expires 30d``) and is revoked one by one (by its id, the first 12
hex digits of its hash) or all of an agent's at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from omniroute.gateway.problems import Unauthorized

TOKEN_PREFIX = "omr_"
TOKEN_ID_LENGTH = 12
DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Role(StrEnum):
    """An agent works their own conversations; a supervisor sees and acts on all of them
    and on every agent's status; an admin also changes the configuration and tokens."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    agent_id: str
    role: Role

    @property
    def supervisor(self) -> bool:
        """True for supervisors and admins (they see and act on everything)."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def admin(self) -> bool:
        """True for admins (configuration, tokens)."""
        return self.role is Role.ADMIN


def issue_token() -> tuple[str, str]:
    """A new token and the hash to store."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token_hash: str) -> str:
    """The public id of a token (safe to show and log): the start of its hash."""
    return token_hash[:TOKEN_ID_LENGTH]


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` as a timedelta (ValueError otherwise)."""
    match = DURATION.match(text.strip())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 90m, 2w or 45s")
    return timedelta(seconds=int(match[1]) * UNIT_SECONDS[match[2]])


STREAM_PROTOCOL = "omniroute.v1"
"""The WebSocket subprotocol of ``/api/v1/stream``."""
PROTOCOL_TOKEN = "bearer."
"""A browser, which cannot set headers on a WebSocket, offers its token as the subprotocol
``bearer.<token>`` beside :data:`STREAM_PROTOCOL` (as Kubernetes' API server takes it):
unlike ``?token=``, it never lands in a proxy's access log or the browser's history."""


def protocol_token(offered: str | None) -> str | None:
    """The token of a ``Sec-WebSocket-Protocol`` header offering ``bearer.<token>``."""
    for protocol in (offered or "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(PROTOCOL_TOKEN) and len(protocol) > len(PROTOCOL_TOKEN):
            return protocol[len(PROTOCOL_TOKEN):]
    return None


def bearer_token(authorization: str | None, query_token: str | None = None) -> str:
    """The token of a request: ``Authorization: Bearer …`` (or, for WebSockets, the
    subprotocol's or ``?token=``)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return token.strip()
    if query_token:
        return query_token
    raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
