"""Parsing raw RFC 5322 / MIME bytes into a :class:`ParsedEmail` (pure, no I/O).

One parser for every way mail arrives (SMTP, Mailgun's ``body-mime``,
SendGrid's raw ``email`` field). It uses the standard library's lenient
``compat32`` parser, which records defects instead of raising, and adds what
support mail needs: RFC 2047 headers and body charsets decoded through
:mod:`.charsets`, HTML-only bodies turned into text, every non-body part kept
as an :class:`AttachmentPart` (inline images keep their ``Content-ID``), and
threading ids parsed tolerantly. When MIME structure is broken (missing
boundaries, undecodable parts) the text is still recovered from the raw body.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from omniroute_connectors.email.charsets import decode_bytes, decode_header_value
from omniroute_connectors.email.html_text import html_to_text

_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


@dataclass(frozen=True)
class AttachmentPart:
    """A non-body MIME part: an attachment or an inline image."""

    content_type: str
    filename: str | None
    content_id: str | None
    inline: bool
    size_bytes: int
    sha256: str
    data: bytes = field(default=b"", repr=False, compare=False)
    """The decoded bytes (what the intake stores for agents, :mod:`.blobs`)."""


@dataclass(frozen=True)
class ParsedEmail:
    """What omniroute needs from one email, decoded."""

    headers: dict[str, str]
    sender: tuple[str, str] | None
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    reply_to: list[tuple[str, str]]
    subject: str
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    date: datetime | None
    text: str
    html: str | None
    attachments: list[AttachmentPart]
    content_type: str
    parts: list[Message] = field(default_factory=list, repr=False)
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        """A decoded header value ('' when absent), case-insensitive."""
        return self.headers.get(name.lower(), "")

    def fingerprint(self) -> str:
        """A stable hash of the identifying headers, for mail without a Message-ID."""
        basis = "\n".join(
            self.header(name) for name in ("from", "to", "date", "subject", "received")
        )
        return hashlib.sha256((basis + "\n" + self.text).encode()).hexdigest()[:40]


def message_ids(*values: str | None) -> list[str]:
    """Message ids from header values: folded, duplicated or comma-separated, in order."""
    seen: list[str] = []
    for value in values:
        if not value:
            continue
        found = _MESSAGE_ID.findall(value)
        if not found:  # ids written without angle brackets
            found = [t for t in re.split(r"[\s,]+", value) if "@" in t]
        for item in found:
            item = item.strip().strip(",")
            if item and item not in seen:
                seen.append(item)
    return seen


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    values = [decode_header_value(v) for v in message.get_all(name, [])]
    try:
        pairs = getaddresses(values)
    except Exception:
        return []
    return [(display, addr.strip()) for display, addr in pairs if "@" in addr]


def _date(message: Message) -> datetime | None:
    value = message.get("date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _part_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _part_text(part: Message) -> str:
    return decode_bytes(_part_bytes(part), part.get_content_charset())


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    if disposition == "attachment":
        return True
    maintype = part.get_content_maintype()
    if maintype not in ("text", "multipart"):
        return True
    return bool(part.get_filename()) and disposition != "inline"


def _attachment(part: Message) -> AttachmentPart:
    data = _part_bytes(part)
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    cid = part.get("content-id")
    content_id = cid.strip().strip("<>") if cid else None
    filename = part.get_filename()
    return AttachmentPart(
        content_type=part.get_content_type(),
        filename=decode_header_value(filename) if filename else None,
        content_id=content_id or None,
        inline=disposition == "inline" or (disposition == "" and content_id is not None),
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )


def _walk_leaves(message: Message) -> list[Message]:
    """Leaf parts in order, not descending into attached messages (forwards, bounces)."""
    leaves: list[Message] = []

    def visit(part: Message, top: bool) -> None:
        if part.get_content_maintype() == "message" and not top:
            leaves.append(part)
            return
        if part.is_multipart():
            for child in part.get_payload() or []:
                if isinstance(child, Message):
                    visit(child, False)
            return
        leaves.append(part)

    visit(message, True)
    return leaves


def _raw_body_text(raw: bytes) -> str:
    """The text after the header block: the last resort for broken MIME."""
    normalized = raw.replace(b"\r\n", b"\n")
    _, _, body = normalized.partition(b"\n\n")
    return decode_bytes(body).strip()


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one email; never raises on malformed input."""
    message = email.message_from_bytes(raw)
    headers = {k.lower(): decode_header_value(v) for k, v in message.items()}
    plain: list[str] = []
    html: list[str] = []
    attachments: list[AttachmentPart] = []
    leaves = _walk_leaves(message)
    for part in leaves:
        ctype = part.get_content_type()
        if part.get_content_maintype() == "message" or _is_attachment(part):
            if part.get_content_maintype() != "message":
                attachments.append(_attachment(part))
            continue
        if ctype == "text/html":
            html.append(_part_text(part))
        else:  # text/*, or a multipart whose boundary is missing (its body is text)
            plain.append(_part_text(part))
    text = "\n\n".join(t.strip("\n") for t in plain if t.strip())
    html_text = "\n\n".join(html) if html else None
    if not text and html_text:
        text = html_to_text(html_text)
    if not text and not attachments:
        text = _raw_body_text(raw)
    from_ = _addresses(message, "from")
    return ParsedEmail(
        headers=headers,
        sender=from_[0] if from_ else None,
        to=_addresses(message, "to"),
        cc=_addresses(message, "cc"),
        reply_to=_addresses(message, "reply-to"),
        subject=headers.get("subject", ""),
        message_id=next(iter(message_ids(headers.get("message-id"))), None),
        # decoded first: Python's email package folds a long id into RFC 2047 encoded words
        in_reply_to=message_ids(*map(decode_header_value, message.get_all("in-reply-to", []))),
        references=message_ids(*map(decode_header_value, message.get_all("references", []))),
        date=_date(message),
        text=text,
        html=html_text,
        attachments=attachments,
        content_type=message.get_content_type(),
        parts=leaves,
        defects=[type(d).__name__ for p in message.walk() for d in p.defects],
    )
