"""The gateway's errors: each one a precise HTTP status and a JSON body saying why.

    RejectedInput
    └── ApiProblem            status + code + message
        ├── BadRequest        400 the body or a parameter is invalid
        ├── Unauthorized      401 no token, or not a valid one
        ├── Forbidden         403 valid token, but not allowed (not your conversation)
        ├── NotFound          404 no such conversation or offer
        │   └── NotStored         404 nobody keeps the attachment's bytes (email)
        ├── Conflict          409 the state does not allow it (a dead letter already replayed)
        │   └── NotYetAssigned    409 + Retry-After: offered to the caller, not assigned yet
        ├── VersionConflict   412 the configuration moved on since the version given
        ├── BadGateway        502 a provider the gateway asked did not give what it needs
        │   ├── MediaUnavailable  502 the attachment's provider failed (or is not configured)
        │   └── MediaTooLarge     502 the attachment is over OMNIROUTE_MEDIA_MAX_BYTES
        └── Unavailable       503 Kafka or PostgreSQL cannot take the request now
"""

from __future__ import annotations

from typing import Any

from omniroute.errors import RejectedInput


def error_document(code: str, message: str) -> dict[str, Any]:
    """The JSON body of every API error: ``{"error": {"code", "message"}}``."""
    return {"error": {"code": code, "message": message}}


class ApiProblem(RejectedInput):
    """An error the API answers with; ``body`` is what the client receives."""

    status = 500
    code = "error"
    retry_after: int | None = None
    """Seconds the client should wait before retrying (the ``Retry-After`` header), if any."""

    @property
    def body(self) -> dict[str, Any]:
        """The JSON error document."""
        return error_document(self.code, self.message)


class BadRequest(ApiProblem):
    """400."""

    status = 400
    code = "bad_request"


class BadRule(BadRequest):
    """400: an automation rule that does not validate."""

    code = "bad_rule"


class OutsideWindow(ApiProblem):
    """422: free text to a customer outside the channel's reply window (a template can go)."""

    status = 422
    code = "outside_window"


class Unauthorized(ApiProblem):
    """401."""

    status = 401
    code = "unauthorized"


class Forbidden(ApiProblem):
    """403."""

    status = 403
    code = "forbidden"


class NotFound(ApiProblem):
    """404."""

    status = 404
    code = "not_found"


class NotStored(NotFound):
    """404: the attachment exists, but nobody keeps its bytes (an email's attachments)."""

    code = "not_stored"


class Conflict(ApiProblem):
    """409."""

    status = 409
    code = "conflict"


class NotYetAssigned(Conflict):
    """409: the conversation is offered to the caller and not assigned yet. An accept is
    answered 202 once Kafka has it; the router's assignment reaches history a moment later,
    so an app that replies right after accepting retries instead of giving up on a 403."""

    code = "not_yet_assigned"
    retry_after = 1


class VersionConflict(ApiProblem):
    """412."""

    status = 412
    code = "version_conflict"


class BadGateway(ApiProblem):
    """502: a provider the gateway asked on the caller's behalf did not give what it needs."""

    status = 502
    code = "bad_gateway"


class MediaUnavailable(BadGateway):
    """502: the attachment's provider failed, refused, or is not configured here."""

    code = "media_unavailable"


class MediaTooLarge(BadGateway):
    """502: the attachment is larger than the gateway serves (OMNIROUTE_MEDIA_MAX_BYTES)."""

    code = "media_too_large"


class Unavailable(ApiProblem):
    """503: Kafka or PostgreSQL cannot take the request now."""

    status = 503
    code = "unavailable"
    retriable = True
    retry_after = 5
