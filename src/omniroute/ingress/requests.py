"""Reading a provider's HTTP request at the edge, shared by every webhook shell.

- :func:`read_body` reads the *whole* body, however the client segments it,
  and refuses one over the route's limit with 413 (never a silent truncation,
  never a false bad signature on a body that arrived in several segments).
- :func:`public_url` is the URL exactly as the provider called it, escapes
  kept (``OMNIROUTE_PUBLIC_BASE_URL`` + the raw path and query): what Twilio signs.
- :func:`webhook_request` assembles the plugin's :class:`WebhookRequest`.
- :data:`UNEXPECTED_INPUT`: the exceptions a plugin's pure mapping may raise on
  a body of an odd shape; the shells answer them 400 ``malformed_body`` and
  never 500.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from omniroute.settings import Settings
from omniroute_connectors.base import PayloadTooLarge, WebhookRequest

CHUNK_BYTES = 64 * 1024
UNEXPECTED_INPUT = (ValueError, TypeError, AttributeError, KeyError, IndexError, LookupError,
                    RecursionError, UnicodeError, OverflowError)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body; :class:`PayloadTooLarge` as soon as it exceeds ``limit`` bytes."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"body is {length} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(CHUNK_BYTES)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)


def public_url(settings: Settings, request: web.Request) -> str:
    """The URL the provider called, escapes kept: the public base URL + raw path and query."""
    if settings.public_base_url:
        return settings.public_base_url + request.raw_path
    return f"{request.scheme}://{request.host}{request.raw_path}"


def webhook_request(settings: Settings, request: web.Request, body: bytes) -> WebhookRequest:
    """The plugin's view of ``request`` (lower-cased headers, query pairs in order)."""
    return WebhookRequest(
        method=request.method, path=request.path, url=public_url(settings, request),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=list(request.query.items()), body=body, received_at=datetime.now(UTC))
