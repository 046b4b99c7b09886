"""Which web chat identity claims are trusted: signed tokens, the identifier HMAC, or nothing.

- ``identity_token`` (recommended): a JWT signed HS256 with
  ``OMNIROUTE_WEBCHAT_IDENTITY_SECRET`` by the site's backend, as Zendesk and
  Intercom do. It must carry ``exp`` (at most :data:`MAX_TOKEN_LIFETIME` after
  ``iat`` when given) and ``sub`` (the site's user id); ``email``, ``phone``
  and ``name`` claims in it are verified, so identity may merge on them.
- ``identifier`` + ``identity_hash`` (kept for compatibility): hex
  HMAC-SHA256 of the identifier. Only the identifier is proven; the email and
  name sent beside it are *claims* (weak evidence, never merged on).
- anything else (an email typed or passed unsigned) is a claim.

PyJWT does the decoding; the pure functions here map its errors to a precise
:class:`~omniroute_connectors.webchat.protocol.FrameError` code.
"""

from __future__ import annotations

from typing import Any

import jwt

from omniroute.contract import VerifiedIdentity
from omniroute_connectors.signatures import raw

MAX_TOKEN_LIFETIME = 7 * 86400
LEEWAY_SECONDS = 30


class IdentityRefused(Exception):
    """An identity token or hash that proves nothing; ``code`` names why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _claim(claims: dict[str, Any], name: str, limit: int) -> str | None:
    value = claims.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise IdentityRefused("identity_invalid", f"claim {name} must be a string of at most "
                              f"{limit} chars")
    return value


def verify_identity_token(token: str, secret: str) -> VerifiedIdentity:
    """The identity a signed token proves; IdentityRefused naming what is wrong."""
    try:
        claims = jwt.decode(token, raw(secret), algorithms=["HS256"], leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise IdentityRefused("identity_expired", "identity_token has expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise IdentityRefused("identity_invalid", f"identity_token lacks the {exc.claim} "
                              "claim") from exc
    except jwt.InvalidSignatureError as exc:
        raise IdentityRefused("identity_mismatch", "identity_token is not signed with the "
                              "workspace secret") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise IdentityRefused("identity_invalid", "identity_token is not a valid HS256 "
                              "JWT") from exc
    issued, expires = claims.get("iat"), claims["exp"]
    if not isinstance(expires, (int, float)) or (
            isinstance(issued, (int, float)) and expires - issued > MAX_TOKEN_LIFETIME):
        raise IdentityRefused("identity_invalid", f"identity_token may live at most "
                              f"{MAX_TOKEN_LIFETIME} s")
    subject = _claim(claims, "sub", 320)
    if subject is None:
        raise IdentityRefused("identity_invalid", "identity_token lacks the sub claim")
    return VerifiedIdentity(identifier=subject, email=_claim(claims, "email", 320),
                            phone=_claim(claims, "phone", 64), name=_claim(claims, "name", 200))


def identity_token(secret: str, subject: str, lifetime: float = 3600, now: float | None = None,
                   **claims: str) -> str:
    """A token as the site's backend makes it (for tests and the docs' example)."""
    import time

    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {"sub": subject, "iat": issued, "exp": issued + int(lifetime),
                               **claims}
    return jwt.encode(payload, raw(secret), algorithm="HS256")
