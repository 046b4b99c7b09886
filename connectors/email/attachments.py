"""Fetching the files of an outbound email's attachments from their URLs.

Rule: a reply is sent with all of its files or not at all. Each attachment
with a ``url`` is fetched over http or https only, from public addresses only
(every redirect hop checked, :mod:`omniroute.infra.reach`; private ones in
``OMNIROUTE_MEDIA_PRIVATE_ORIGINS`` allowed), at most
:data:`MAX_ATTACHMENT_BYTES` each and :data:`MAX_TOTAL_BYTES` together, each
fetch within :data:`FETCH_TIMEOUT_SECONDS`; connection errors, timeouts and
5xx answers are retried :data:`FETCH_ATTEMPTS` times. When a file still cannot
be had, :class:`AttachmentUnavailable` names the URL and why, and the sender
reports the message ``failed`` with ``error_code`` ``attachment_unavailable``
instead of sending a reply that lacks the file the agent meant to send.
Attachments with no URL (only a ``media_id`` or ``content_id``) have no bytes
omniroute can reach and are left out.
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp

from omniroute.contract import Attachment
from omniroute.errors import RejectedInput
from omniroute.infra.reach import MAX_REDIRECTS, REDIRECTS, Reach, refusal
from omniroute_connectors.email.compose import FileAttachment

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 20.0
FETCH_ATTEMPTS = 3


class AttachmentUnavailable(RejectedInput):
    """An attachment's file could not be fetched; the message names the URL and the reason."""


def checked_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL; AttachmentUnavailable otherwise."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AttachmentUnavailable(f"{url[:200]}: only http and https URLs are fetched")
    return url


def filename_for(attachment: Attachment, url: str) -> str:
    """The attachment's filename, else the last segment of the URL path, else ``attachment``."""
    if attachment.filename:
        return attachment.filename
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "attachment"


async def _fetch_once(session: aiohttp.ClientSession, reach: Reach, url: str, limit: int
                      ) -> tuple[bytes, str]:
    async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
        hop = url
        for _ in range(MAX_REDIRECTS + 1):
            await reach.check(hop)
            async with session.get(hop, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in REDIRECTS and location:
                    hop = checked_url(urljoin(hop, location))
                    continue
                if response.status >= 400:
                    raise AttachmentUnavailable(f"{url[:200]}: the server answered "
                                                f"{response.status}")
                if response.content_length is not None and response.content_length > limit:
                    raise AttachmentUnavailable(f"{url[:200]}: {response.content_length} "
                                                f"bytes is over the limit of {limit}")
                data = await response.content.read(limit + 1)
                if len(data) > limit:
                    raise AttachmentUnavailable(f"{url[:200]}: over the limit of {limit} bytes")
                return data, response.headers.get("Content-Type", "").split(";")[0].strip()
    raise AttachmentUnavailable(f"{url[:200]}: redirected more than {MAX_REDIRECTS} times")


async def _fetch(session: aiohttp.ClientSession, reach: Reach, url: str, limit: int
                 ) -> tuple[bytes, str]:
    for attempt in range(FETCH_ATTEMPTS):
        try:
            return await _fetch_once(session, reach, url, limit)
        except AttachmentUnavailable as exc:
            if "answered 5" not in exc.message or attempt == FETCH_ATTEMPTS - 1:
                raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if (refused := refusal(exc)) is not None:  # not an outage: no retry
                raise AttachmentUnavailable(f"{url[:200]}: {refused}") from exc
            if attempt == FETCH_ATTEMPTS - 1:
                raise AttachmentUnavailable(f"{url[:200]}: {type(exc).__name__} {exc}") from exc
        await asyncio.sleep(0.2 * 2**attempt)
    raise AttachmentUnavailable(f"{url[:200]}: not fetched")  # pragma: no cover - loop returns


async def fetch_files(session: aiohttp.ClientSession, reach: Reach,
                      attachments: list[Attachment]) -> list[FileAttachment]:
    """Every attachment with a URL as bytes to attach; AttachmentUnavailable on any failure
    (``session`` should resolve through :class:`omniroute.infra.reach.PublicResolver`)."""
    files: list[FileAttachment] = []
    budget = MAX_TOTAL_BYTES
    for attachment in attachments:
        if not attachment.url:
            continue
        url = checked_url(attachment.url)
        data, served_type = await _fetch(session, reach, url,
                                         min(MAX_ATTACHMENT_BYTES, budget))
        budget -= len(data)
        content_type = attachment.content_type or served_type or "application/octet-stream"
        files.append(FileAttachment(filename_for(attachment, url), content_type, data))
    return files
