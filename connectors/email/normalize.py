"""From a parsed email to what omniroute publishes (pure).

:func:`normalize_email` is the single entry point every inbound email path
(SMTP, Mailgun, SendGrid) calls with the raw MIME bytes. It returns one of:

- an :class:`~omniroute.contract.InboundMessage` (channel ``email``): ``text``
  is the visible reply, ``full_text`` the whole body, threading ids and the
  reply token in ``thread``;
- a :class:`~omniroute.contract.DeliveryStatus` ``failed`` for a bounce of
  mail we sent;
- a :class:`Suppressed` for auto-replies, delays, complaints and read
  receipts, which no agent should see.

The intake paths call :func:`receive_email`, the same decision with the bytes
of the InboundMessage's attachments to store before publishing (:mod:`.blobs`).

``event_id`` is derived from the Message-ID (or, without one, from a hash of
the identifying headers and the body) so every retry of the same mail, by any
path, carries the same id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from omniroute.contract import (
    Address,
    Attachment,
    AttachmentKind,
    Channel,
    DeliveryState,
    DeliveryStatus,
    InboundMessage,
    ThreadHints,
)
from omniroute.contract.inbound import MAX_TEXT_CHARS
from omniroute.errors import RejectedInput
from omniroute_connectors.email.authentication import MailAuth
from omniroute_connectors.email.blobs import AttachmentBlob, blobs_of
from omniroute_connectors.email.classify import MailKind, bounce_details, classify
from omniroute_connectors.email.mime import AttachmentPart, ParsedEmail, parse_email
from omniroute_connectors.email.replies import split_reply

MAX_MIME_PARTS = 2000
METADATA_HEADERS = ("authentication-results", "received-spf", "dkim-signature", "x-mailer")


@dataclass(frozen=True)
class Mailboxes:
    """The support addresses omniroute receives mail for (lower-case ``local@domain``)."""

    addresses: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *addresses: str) -> Mailboxes:
        """Mailboxes from addresses in any case."""
        return cls(frozenset(a.strip().lower() for a in addresses if a.strip()))

    def match(self, address: str) -> tuple[str, str | None] | None:
        """``(mailbox, reply token)`` when ``address`` is a mailbox or its plus address."""
        local, _, domain = address.strip().lower().partition("@")
        base, plus, _ = local.partition("+")
        mailbox = f"{base}@{domain}"
        if self.addresses and mailbox not in self.addresses:
            return None
        original_token = address.strip().partition("@")[0].partition("+")[2]
        return mailbox, (original_token or None) if plus else None


@dataclass(frozen=True)
class Suppressed:
    """Machine-generated mail that is recognized and deliberately not routed."""

    kind: MailKind
    message_id: str | None
    sender: str | None
    reason: str


@dataclass(frozen=True)
class EmailContext:
    """Where the email came from: the provider name and the envelope."""

    provider: str = "smtp"
    workspace: str = "default"
    envelope_recipients: tuple[str, ...] = ()
    envelope_sender: str | None = None
    mailboxes: Mailboxes = field(default_factory=Mailboxes)
    auth: MailAuth | None = None
    """The sender's authentication verdict (:mod:`.authentication`); None: not checked."""


EmailResult = InboundMessage | DeliveryStatus | Suppressed


def event_id_for(parsed: ParsedEmail) -> str:
    """The deterministic event id: a hash of the Message-ID, else of the headers and body."""
    basis = parsed.message_id or f"fingerprint:{parsed.fingerprint()}"
    return f"email:{hashlib.sha256(basis.encode()).hexdigest()[:40]}"


def _recipient(parsed: ParsedEmail, context: EmailContext) -> tuple[str, str | None]:
    candidates = [*context.envelope_recipients]
    candidates += [addr for _, addr in parsed.to + parsed.cc]
    candidates += [parsed.header("delivered-to"), parsed.header("x-original-to")]
    for address in candidates:
        if address and (found := context.mailboxes.match(address)):
            return found
    if context.mailboxes.addresses:
        raise RejectedInput(f"no recipient of this email is a support mailbox: {candidates[:5]}")
    first = next((a for a in candidates if a and "@" in a), "unknown@invalid")
    return first.lower(), None


def _fallback_sender(parsed: ParsedEmail, context: EmailContext) -> tuple[str, str] | None:
    for value in (parsed.header("sender"), parsed.header("return-path"), context.envelope_sender):
        address = (value or "").strip().strip("<>").strip()
        if "@" in address and " " not in address:
            return "", address
    return None


def _attachment(part: AttachmentPart) -> Attachment:
    kind = {"image": AttachmentKind.IMAGE, "audio": AttachmentKind.AUDIO}.get(
        part.content_type.split("/")[0], AttachmentKind.FILE
    )
    if part.content_type.startswith("video/"):
        kind = AttachmentKind.VIDEO
    return Attachment(
        kind=kind,
        media_id=f"sha256:{part.sha256}",
        content_type=part.content_type[:255],
        filename=part.filename[:1024] if part.filename else None,
        size_bytes=part.size_bytes,
        content_id=part.content_id[:998] if part.content_id else None,
    )


def _metadata(parsed: ParsedEmail, auth: MailAuth | None) -> dict[str, str]:
    meta = {name: parsed.header(name)[:2048] for name in METADATA_HEADERS if parsed.header(name)}
    if parsed.defects:
        meta["mime_defects"] = ",".join(sorted(set(parsed.defects)))[:2048]
    meta.update((auth or MailAuth(by="none")).metadata())
    return meta


def _bounce_status(parsed: ParsedEmail, context: EmailContext) -> DeliveryStatus:
    bounce = bounce_details(parsed)
    return DeliveryStatus(
        event_id=f"email-bounce:{event_id_for(parsed).split(':', 1)[1]}",
        workspace=context.workspace,
        channel=Channel.EMAIL,
        provider=context.provider,
        provider_message_id=bounce.original_message_id,
        recipient=Address(value=bounce.recipient) if bounce.recipient else None,
        state=DeliveryState.FAILED,
        status_at=parsed.date,
        error_code=(bounce.status or "bounce")[:64],
        error_message=(bounce.diagnostic or parsed.subject or "bounced")[:2048],
    )


def to_inbound(parsed: ParsedEmail, context: EmailContext) -> InboundMessage:
    """Map a customer email to an InboundMessage; RejectedInput when it cannot be."""
    sender = parsed.sender or _fallback_sender(parsed, context)
    if sender is None:
        raise RejectedInput("email has no usable From address (nor Sender, Return-Path)")
    mailbox, token = _recipient(parsed, context)
    parts = split_reply(parsed.text)
    text = parts.visible[:MAX_TEXT_CHARS] or None
    attachments = [_attachment(p) for p in parsed.attachments]
    if not text and not attachments:
        text = parsed.subject[:MAX_TEXT_CHARS] or None
    if not text and not attachments:
        raise RejectedInput("email has no text, no attachments and no subject")
    name, address = sender
    return InboundMessage(
        event_id=event_id_for(parsed),
        workspace=context.workspace,
        channel=Channel.EMAIL,
        provider=context.provider,
        channel_account=mailbox,
        sender=Address(value=address[:320], name=name[:200] or None),
        recipient=Address(value=mailbox),
        provider_message_id=(parsed.message_id or f"sha256:{parsed.fingerprint()}")[:998],
        provider_timestamp=parsed.date,
        text=text,
        full_text=parts.full[: 4 * MAX_TEXT_CHARS] if parts.stripped else None,
        attachments=attachments,
        reply_to_provider_message_id=parsed.in_reply_to[0][:998] if parsed.in_reply_to else None,
        thread=ThreadHints(
            message_id=parsed.message_id[:998] if parsed.message_id else None,
            in_reply_to=[i[:998] for i in parsed.in_reply_to],
            references=[i[:998] for i in parsed.references],
            reply_token=token[:200] if token else None,
            subject=parsed.subject[:998] or None,
        ),
        metadata=_metadata(parsed, context.auth),
    )


@dataclass(frozen=True)
class ReceivedEmail:
    """What to publish, and the attachment bytes to store before publishing it."""

    result: EmailResult
    blobs: tuple[AttachmentBlob, ...] = ()


def _decide(raw: bytes, context: EmailContext) -> tuple[ParsedEmail, EmailResult]:
    if raw.count(b"\n--") > MAX_MIME_PARTS:
        raise RejectedInput(f"the mail has more than {MAX_MIME_PARTS} MIME parts")
    parsed = parse_email(raw)
    kind = classify(parsed)
    if kind is MailKind.BOUNCE:
        return parsed, _bounce_status(parsed, context)
    if kind is not MailKind.MESSAGE:
        sender = parsed.sender[1] if parsed.sender else None
        return parsed, Suppressed(kind, parsed.message_id, sender,
                                  f"{kind.value}: {parsed.subject[:200]}")
    return parsed, to_inbound(parsed, context)


def normalize_email(raw: bytes, context: EmailContext) -> EmailResult:
    """Parse raw MIME and decide what to publish (see the module docstring).

    A mail with more than :data:`MAX_MIME_PARTS` boundary lines is refused
    before it is parsed (a 60,000-part mail would hold a parser for seconds).
    """
    return _decide(raw, context)[1]


def receive_email(raw: bytes, context: EmailContext, max_blob_bytes: int) -> ReceivedEmail:
    """:func:`normalize_email`, with the bytes of an InboundMessage's attachments of at
    most ``max_blob_bytes`` each to store first (:mod:`.blobs`)."""
    parsed, result = _decide(raw, context)
    if not isinstance(result, InboundMessage):
        return ReceivedEmail(result)
    return ReceivedEmail(result, blobs_of(parsed.attachments, max_blob_bytes))
