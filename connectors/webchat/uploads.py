"""Photos and files a web chat visitor sends: ``POST /webchat/uploads``.

A visitor's browser is the only copy of the file, so the upload stores its bytes in
PostgreSQL (``attachment_blobs``, keyed by SHA-256, as the email intake does) *before*
answering ``200 {"upload_id": "sha256:<hex>.<tag>", "content_type", "size_bytes",
"filename"}``. The widget then sends a ``message`` frame naming the ``upload_id``; the
InboundMessage carries ``sha256:<hex>`` as the attachment's ``media_id`` and the gateway
serves the stored bytes.

The tag (HMAC-SHA256 with ``OMNIROUTE_IDENTITY_KEY`` of the visitor id and the digest,
128 bits) binds the upload to the visitor who made it: a frame may name only its own
visitor's uploads. With the bare digest as the id, any visitor could name any stored
file (an email attachment of another customer included) and put it before an agent
in their own conversation, and learn from the answer whether that exact file was stored.

- authentication: the visitor token (``Authorization: Bearer <visitor_token>`` or a
  ``visitor_token`` form field before the file), checked as the WebSocket hello checks it;
  the Origin allow-list of the socket applies too;
- one ``file`` part of at most ``OMNIROUTE_WEBCHAT_UPLOAD_MAX_BYTES`` (else 413); its type is
  sniffed from the bytes (JPEG, PNG, GIF, WebP, PDF; else 415), never taken from the browser;
- uploads count against the visitor's messages per minute, and their bytes against the
  IP's hourly budget (429 beyond either);
- no database configured, or PostgreSQL unreachable: 503, nothing stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import BodyPartReader, web

from omniroute.contract import Attachment, AttachmentKind
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import REJECTIONS
from omniroute_connectors.base import RawRoute
from omniroute_connectors.webchat.chat import WebChat
from omniroute_connectors.webchat.limits import ChatLimits
from omniroute_connectors.webchat.protocol import TOKEN, visitor_id_for

log = get_logger(__name__)
PREFIX = "sha256:"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_UPLOAD_ID = re.compile(r"^sha256:([0-9a-f]{64})\.([0-9a-f]{32})$")
_KEEP = """
INSERT INTO attachment_blobs (sha256, content_type, size_bytes, bytes)
VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING
"""
_FOUND = "SELECT sha256, content_type, size_bytes FROM attachment_blobs WHERE sha256 = ANY($1)"
ALLOWED = "JPEG, PNG, GIF, WebP or PDF"
FORM_OVERHEAD = 16 * 1024
"""Room for the form's other parts and headers before a body is refused by its length."""


def sniff(data: bytes) -> str | None:
    """The content type the bytes' signature proves (None: not an accepted type)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _tag(key: bytes, visitor_id: str, digest: str) -> str:
    return hmac.new(key, f"webchat upload\n{visitor_id}\n{digest}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def upload_key(chat: WebChat) -> bytes:
    """The key of upload ids' tags (``OMNIROUTE_IDENTITY_KEY``)."""
    return chat.settings.identity_key.get_secret_value().encode()


def upload_id_for(key: bytes, visitor_id: str, digest: str) -> str:
    """The upload id ``visitor_id`` gets for the file of SHA-256 ``digest``."""
    return f"{PREFIX}{digest}.{_tag(key, visitor_id, digest)}"


def uploaded_digest(key: bytes, visitor_id: str, upload_id: str) -> str | None:
    """The file digest ``upload_id`` names, if ``visitor_id`` was given it (else None)."""
    match = _UPLOAD_ID.match(upload_id)
    if match is None:
        return None
    digest, tag = match.groups()
    return digest if hmac.compare_digest(tag, _tag(key, visitor_id, digest)) else None


def clean_filename(name: str | None) -> str | None:
    """The browser's file name without a path or control characters (at most 255 chars)."""
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()[:255]
    return base or None


@dataclass(frozen=True)
class StoredUpload:
    """An upload found in ``attachment_blobs``."""

    media_id: str
    """``sha256:<hex>``: how attachments name a stored blob."""
    content_type: str | None
    size_bytes: int

    def attachment(self, filename: str | None) -> Attachment:
        """The InboundMessage attachment naming this upload."""
        image = (self.content_type or "").startswith("image/")
        return Attachment(kind=AttachmentKind.IMAGE if image else AttachmentKind.FILE,
                          media_id=self.media_id, content_type=self.content_type,
                          filename=filename, size_bytes=self.size_bytes)


class UploadsUnavailable(Exception):
    """PostgreSQL could not be asked (unreachable, or not configured: ``configured``)."""

    def __init__(self, detail: str, configured: bool = True) -> None:
        super().__init__(detail)
        self.detail = detail
        self.configured = configured


async def stored_uploads(chat: WebChat, digests: list[str]) -> dict[str, StoredUpload]:
    """The files among ``digests`` that are stored, by digest (UploadsUnavailable when
    unknowable)."""
    wanted = [d for d in digests if _DIGEST.match(d)]
    if not wanted:
        return {}
    rows = await _run(chat, _FOUND, wanted, fetch=True)
    return {r["sha256"]: StoredUpload(PREFIX + r["sha256"], r["content_type"], r["size_bytes"])
            for r in rows}


async def _run(chat: WebChat, query: str, *args: Any, fetch: bool = False) -> list[Any]:
    if not chat.settings.database_url:
        raise UploadsUnavailable("photos and files need the database: this server has no "
                                 "OMNIROUTE_DATABASE_URL", configured=False)
    pool = chat.transcripts.pool if chat.transcripts else None
    if pool is None:
        raise UploadsUnavailable("the database is unavailable; try again in a moment")
    try:
        if fetch:
            return list(await pool.fetch(query, *args))
        await pool.execute(query, *args)
        return []
    except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
        log.warning("webchat_upload_database_error", error=type(exc).__name__)
        raise UploadsUnavailable("the database is unavailable; try again in a moment") from exc


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Uploads:
    """The upload route over the web chat's database pool and the socket's limits."""

    def __init__(self, chat: WebChat, limits: ChatLimits) -> None:
        self.chat = chat
        self.limits = limits
        self.max_bytes = chat.settings.webchat_upload_max_bytes

    def routes(self) -> tuple[RawRoute, ...]:
        """``POST /uploads`` and its CORS preflight."""
        return (RawRoute("/uploads", "POST", self.upload),
                RawRoute("/uploads", "OPTIONS", self.preflight))

    def _cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if self.limits.origins and origin:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Access-Control-Allow-Origin": "*"}

    async def preflight(self, request: web.Request) -> web.Response:
        """Let the widget's page send the visitor token in an Authorization header."""
        if not self.limits.origin_allowed(request.headers.get("Origin")):
            return web.Response(status=403)
        return web.Response(status=204, headers={
            **self._cors(request), "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Authorization", "Access-Control-Max-Age": "600"})

    async def upload(self, request: web.Request) -> web.Response:
        """Store one file; its upload id, sniffed type, size and name."""
        try:
            answer = await self._store(request)
        except _Refused as exc:
            REJECTIONS.labels("webchat", exc.code).inc()
            return web.json_response({"error": {"code": exc.code, "message": exc.message}},
                                     status=exc.status, headers=self._cors(request))
        return web.json_response(answer, headers=self._cors(request))

    async def _store(self, request: web.Request) -> dict[str, Any]:
        if not self.limits.origin_allowed(request.headers.get("Origin")):
            raise _Refused(403, "origin_not_allowed", "this origin may not upload to web chat")
        if (request.content_length or 0) > self.max_bytes + FORM_OVERHEAD:
            raise _Refused(413, "file_too_large", self._too_large())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        try:
            token, part = await self._file_part(request, token)
        except (AssertionError, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise _Refused(400, "invalid_upload", "the body must be multipart/form-data with "
                           "one part named file") from exc
        if not TOKEN.match(token):
            raise _Refused(401, "invalid_visitor_token", "a visitor_token (Authorization: "
                           "Bearer, or a form field before the file) is required")
        if part is None:
            raise _Refused(400, "missing_file", "the form needs a part named file")
        visitor_id = visitor_id_for(token)
        if not self.limits.upload(visitor_id):
            raise _Refused(429, "rate_limited", "too many uploads; retry in a minute")
        ip = request.remote or "unknown"
        if not self.limits.upload_room(ip):
            raise _Refused(429, "rate_limited", self._over_budget())
        data = await self._read(part)
        if not self.limits.uploaded(ip, len(data)):
            raise _Refused(429, "rate_limited", self._over_budget())
        content_type = sniff(data)
        if content_type is None:
            raise _Refused(415, "unsupported_type", f"only {ALLOWED} files can be sent; this "
                           "file's content is none of them")
        digest = hashlib.sha256(data).hexdigest()
        try:
            await _run(self.chat, _KEEP, digest, content_type, len(data), data)
        except UploadsUnavailable as exc:
            raise _Refused(503, "unavailable" if exc.configured else "uploads_not_configured",
                           exc.detail) from exc
        log.info("webchat_upload_stored", visitor_id=visitor_id, size_bytes=len(data),
                 content_type=content_type)
        return {"upload_id": upload_id_for(upload_key(self.chat), visitor_id, digest),
                "content_type": content_type,
                "size_bytes": len(data), "filename": clean_filename(part.filename)}

    @staticmethod
    async def _file_part(request: web.Request, token: str
                         ) -> tuple[str, BodyPartReader | None]:
        """The ``file`` part, and the token of a ``visitor_token`` field before it (when the
        header had none)."""
        reader = await request.multipart()
        part = await reader.next()
        while isinstance(part, BodyPartReader) and part.name != "file":
            if part.name == "visitor_token" and not token:
                token = (await part.read_chunk(256)).decode("utf-8", "replace").strip()
            await part.release()
            part = await reader.next()
        return token, part if isinstance(part, BodyPartReader) else None

    def _over_budget(self) -> str:
        budget = self.chat.settings.webchat_upload_bytes_per_ip_per_hour
        return (f"this network uploaded more than {budget / 1048576:.3g} MB in the last hour "
                "(OMNIROUTE_WEBCHAT_UPLOAD_BYTES_PER_IP_PER_HOUR); retry later")

    def _too_large(self) -> str:
        return (f"files are limited to {self.max_bytes} bytes "
                f"({self.max_bytes / 1048576:.3g} MB, OMNIROUTE_WEBCHAT_UPLOAD_MAX_BYTES)")

    async def _read(self, part: BodyPartReader) -> bytes:
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > self.max_bytes:
                raise _Refused(413, "file_too_large", self._too_large())
        if not data:
            raise _Refused(400, "empty_file", "the file is empty")
        return bytes(data)
