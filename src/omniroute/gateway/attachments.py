"""A customer's attachment, fetched from its provider for an agent (a shell).

``GET /api/v1/conversations/{id}/messages/{message_id}/attachments/{position}`` is
authorized like reading the conversation; the connector of the message's provider
says what to ask (:mod:`omniroute_connectors.media`, pure) and this module does
the HTTP: credentials only to the origin the plan allows, redirects followed by
hand (at most :data:`MAX_REDIRECTS`), no hop to a private network address but the
provider APIs' own (:mod:`omniroute.infra.reach`), everything within
``OMNIROUTE_MEDIA_FETCH_TIMEOUT_S``, at most ``OMNIROUTE_MEDIA_MAX_BYTES``.

The bytes are answered with the provider's type (else the stored one), inline for
images, audio and video and as a download otherwise, and under a
``Content-Security-Policy`` of ``default-src 'none'; sandbox``: an HTML or SVG
"photo" runs no script on the gateway's origin. An email's attachment has no
provider to fetch from: since 2026-12-05 the email intake stores its bytes in
``attachment_blobs`` (by SHA-256, its ``media_id``), and they are answered from
there with the same headers. Errors are the gateway's JSON documents:
``not_stored`` (404, an email attachment whose bytes were not stored),
``media_unavailable`` and ``media_too_large`` (502).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

import aiohttp
from aiohttp import web
from prometheus_client import Counter
from yarl import URL

from omniroute.gateway import queries
from omniroute.gateway.problems import MediaTooLarge, MediaUnavailable, NotFound, NotStored
from omniroute.infra.reach import MAX_REDIRECTS, REDIRECTS, PublicResolver, Reach, refusal
from omniroute.observability.logs import get_logger
from omniroute_connectors import media
from omniroute_connectors.outbound import NETWORK_FAILURE, ProviderResponse

if TYPE_CHECKING:
    from omniroute.gateway.app import Gateway

Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]
PATH = "/api/v1/conversations/{conversation_id}/messages/{message_id}/attachments/{position}"
ATTACHMENTS = Counter(
    "omniroute_gateway_attachments_total",
    "Customers' attachments the gateway fetched from their provider for an agent, by "
    "provider and outcome (served, not_stored, not_configured, unavailable, too_large, "
    "interrupted).", ["provider", "outcome"])
LOOKUP_MAX_BYTES = 65_536
"""The most a lookup step's JSON (WhatsApp's media URL, Telegram's getFile) may weigh."""
CHUNK_BYTES = 65_536
INLINE_TYPES = frozenset({"image", "audio", "video"})
CSP = "default-src 'none'; sandbox"
_BLOB = "SELECT content_type, bytes FROM attachment_blobs WHERE sha256 = $1"
NOT_KEPT = ("omniroute did not store this email attachment's bytes (received before "
            "2026-12-05, over OMNIROUTE_EMAIL_ATTACHMENT_MAX_BYTES, or without a database): "
            "the file is in the customer's original mail")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;[ -~]*)?$")
log = get_logger(__name__)


def content_type(provider_type: str | None, stored_type: str | None,
                 default: str | None = None) -> str:
    """What the answer says it is: the provider's type unless it is absent, malformed or
    just ``application/octet-stream``; then the stored one, the plan's, or octet-stream."""
    generic = "application/octet-stream"
    for candidate in (provider_type, stored_type, default):
        if candidate and _MEDIA_TYPE.match(candidate.strip()) and \
                candidate.split(";")[0].strip().lower() != generic:
            return candidate.strip()
    return generic


def disposition(media_type: str, filename: str | None) -> str:
    """``inline`` for images, audio and video, else ``attachment``; with the stored file name
    as an ASCII ``filename`` and the exact one in ``filename*`` (RFC 6266, RFC 8187)."""
    kind = "inline" if media_type.split("/")[0].strip().lower() in INLINE_TYPES \
        else "attachment"
    name = "".join(c for c in (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
                   if c.isprintable()).strip()
    if not name:
        return kind
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def served_headers(media_type: str, filename: str | None) -> dict[str, str]:
    """The headers of a served attachment of type ``media_type`` (see the module docstring)."""
    return {"Content-Type": media_type, "Content-Disposition": disposition(media_type, filename),
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600",
            "Content-Security-Policy": CSP}


def answer_headers(provider_type: str | None, stored: media.StoredAttachment,
                   plan: media.MediaPlan) -> dict[str, str]:
    """The headers of an attachment fetched from its provider."""
    return served_headers(content_type(provider_type, stored.content_type, plan.content_type),
                          stored.filename)


def kept(stored: media.StoredAttachment) -> bool:
    """Whether ``stored``'s bytes are ours (``attachment_blobs``): emailed, or named by their
    SHA-256 (``sha256:<hex>``, as web chat uploads are) rather than by a provider's id."""
    return stored.emailed or (stored.media_id or "").startswith("sha256:")


def network_text(exc: BaseException, url: str) -> str:
    """An unreachable provider's error for messages, never with the URL's path or query
    (Telegram's bot token is in its path; signed URLs carry their signature)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if secret:
            text = text.replace(secret, "…")
    return text


class Attachments:
    """The attachment route over the gateway's plumbing; one HTTP session for providers."""

    def __init__(self, gateway: Gateway) -> None:
        self.g = gateway
        self._reach: Reach | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def reach(self) -> Reach:
        """Where media may be fetched from (made on first use, from the settings)."""
        if self._reach is None:
            self._reach = Reach(self.g.settings)
        return self._reach

    def routes(self) -> list[Route]:
        """(method, path, handler) of every route here."""
        return [("GET", PATH, self.download)]

    async def close(self) -> None:
        """Close the providers' HTTP session (the application's cleanup)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def download(self, request: web.Request) -> web.StreamResponse:
        """The attachment's bytes, or the JSON error saying why not."""
        who = await self.g.who(request)
        ref = await self.g.conversation(request, who, read=True)
        stored = await self._stored(request, ref.conversation_id)
        provider = "email" if stored.emailed else stored.provider or "unknown"
        where = {"conversation_id": ref.conversation_id, "provider": provider,
                 "message_id": request.match_info["message_id"][:200],
                 "position": request.match_info["position"]}
        try:
            if kept(stored):
                response, complete = await self._serve_kept(stored), True
            else:
                plan = media.media_plan(self.g.settings, stored)
                self._check_size(stored.size_bytes, media.provider_name(stored))
                response, complete = await self._serve(request, plan, stored)
        except media.MediaError as exc:
            outcome, problem = self._problem(exc)
            ATTACHMENTS.labels(provider, outcome).inc()
            log.warning("gateway.attachment_refused", outcome=outcome, error=exc.message,
                        **where)
            raise problem from exc
        outcome = "served" if complete else "interrupted"
        ATTACHMENTS.labels(provider, outcome).inc()
        log.info("gateway.attachment_" + outcome, **where)
        return response

    async def _stored(self, request: web.Request, conversation_id: str
                      ) -> media.StoredAttachment:
        message_id = request.match_info["message_id"]
        raw = request.match_info["position"]
        position = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else -1
        row = None
        if 0 <= position < 32_768 and "\x00" not in message_id:
            row = await queries.attachment(self.g.pool, conversation_id, message_id, position)
        if row is None:
            raise NotFound(f"conversation {conversation_id!r} has no message "
                           f"{message_id[:200]!r} with an attachment at position {raw[:20]!r}")
        if row["direction"] != "inbound":
            raise NotFound(f"message {message_id[:200]!r} is a reply: only customers' "
                           "attachments are fetched from their provider")
        return media.StoredAttachment(
            provider=row["provider"], channel=row["channel"],
            channel_account=row["channel_account"], kind=row["kind"], url=row["url"],
            media_id=row["media_id"], content_type=row["content_type"],
            filename=row["filename"], size_bytes=row["size_bytes"])

    async def _serve_kept(self, stored: media.StoredAttachment) -> web.StreamResponse:
        """An email attachment's bytes from ``attachment_blobs``; NotStored when absent."""
        media_id = stored.media_id or ""
        row = await self.g.pool.fetchrow(_BLOB, media_id.removeprefix("sha256:")) \
            if media_id.startswith("sha256:") else None
        if row is None:
            raise media.NotStored(NOT_KEPT)
        chosen = content_type(None, stored.content_type, row["content_type"])
        return web.Response(body=row["bytes"], headers=served_headers(chosen, stored.filename))

    def _check_size(self, size: int | None, what: str) -> None:
        limit = self.g.settings.media_max_bytes
        if size is not None and size > limit:
            raise _TooLarge(f"the attachment is {size} bytes; the gateway serves at most "
                            f"{limit} (OMNIROUTE_MEDIA_MAX_BYTES): open it in {what}")

    @staticmethod
    def _problem(exc: media.MediaError) -> tuple[str, NotStored | MediaUnavailable | MediaTooLarge]:
        if isinstance(exc, media.NotStored):
            return "not_stored", NotStored(exc.message)
        if isinstance(exc, _TooLarge):
            return "too_large", MediaTooLarge(exc.message)
        if isinstance(exc, media.NotConfigured):
            return "not_configured", MediaUnavailable(exc.message)
        return "unavailable", MediaUnavailable(exc.message)

    # -- HTTP -------------------------------------------------------------------------------
    def session(self) -> aiohttp.ClientSession:
        """The session every provider request goes through (no cookies kept)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=PublicResolver(self.reach)),
                cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def _serve(self, request: web.Request, plan: media.MediaPlan,
                     stored: media.StoredAttachment) -> tuple[web.StreamResponse, bool]:
        """The answer, and whether all of it went out (False: the provider broke off)."""
        what = media.provider_name(stored)
        answer = web.StreamResponse()
        current = plan.first.url
        try:
            async with asyncio.timeout(self.g.settings.media_fetch_timeout_s):
                download = plan.first
                if plan.locate is not None:
                    async with self._get(plan.first) as lookup:
                        body = await lookup.content.read(LOOKUP_MAX_BYTES)
                        if lookup.status != 200:
                            raise media.unavailable(plan, ProviderResponse(lookup.status, body),
                                                    what)
                    download = plan.locate(_json(body))
                    current = download.url
                async with self._get(download) as upstream:
                    return await self._relay(request, answer, upstream, plan, stored, what), True
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            if answer.prepared:  # the bytes were under way: end the connection, not the file
                log.warning("gateway.attachment_interrupted", error=network_text(exc, current))
                answer.force_close()
                return answer, False
            if (refused := refusal(exc)) is not None:
                raise media.MediaUnavailable(f"could not fetch the attachment from {what}: "
                                             f"{refused}") from exc
            failed = ProviderResponse(NETWORK_FAILURE, network_text(exc, current).encode())
            raise media.unavailable(plan, failed, what) from exc

    async def _relay(self, request: web.Request, answer: web.StreamResponse,
                     upstream: aiohttp.ClientResponse, plan: media.MediaPlan,
                     stored: media.StoredAttachment, what: str) -> web.StreamResponse:
        if upstream.status != 200:
            body = await upstream.content.read(LOOKUP_MAX_BYTES)
            raise media.unavailable(plan, ProviderResponse(upstream.status, body), what)
        length = None if upstream.headers.get("Content-Encoding") else upstream.content_length
        self._check_size(length, what)
        answer.headers.update(answer_headers(upstream.headers.get("Content-Type"), stored, plan))
        if length is None:  # unknown size: read it all (up to the cap) before answering
            body = await self._read_capped(upstream.content, what)
            answer.content_length = len(body)
            await answer.prepare(request)
            await answer.write(body)
        else:
            answer.content_length = length
            await answer.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
                await answer.write(chunk)
        await answer.write_eof()
        return answer

    async def _read_capped(self, content: aiohttp.StreamReader, what: str) -> bytes:
        limit = self.g.settings.media_max_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in content.iter_chunked(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise _TooLarge(f"the attachment is over {limit} bytes, the most the gateway "
                                f"serves (OMNIROUTE_MEDIA_MAX_BYTES): open it in {what}")
            chunks.append(chunk)
        return b"".join(chunks)

    @asynccontextmanager
    async def _get(self, wanted: media.MediaRequest) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET ``wanted``, following redirects by hand so that its credentials go only to
        the origin it allows."""
        url = wanted.url
        for _hop in range(MAX_REDIRECTS + 1):
            await self.reach.check(url)
            response = await self.session().get(
                URL(url, encoded=True), allow_redirects=False,
                headers={"Accept-Encoding": "identity", **wanted.headers_for(url)})
            location = response.headers.get("Location")
            if response.status in REDIRECTS and location:
                response.release()
                url = urljoin(url, location)
                if urlsplit(url).scheme.lower() not in ("http", "https"):
                    raise media.MediaUnavailable("the provider redirected the attachment to a "
                                                 "URL that is not http(s)")
                continue
            try:
                yield response
            finally:
                response.release()
            return
        raise media.MediaUnavailable(f"the provider redirected the attachment more than "
                                     f"{MAX_REDIRECTS} times")


class _TooLarge(media.MediaError):
    """Over ``OMNIROUTE_MEDIA_MAX_BYTES`` (the gateway's limit, not the provider's)."""


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None
