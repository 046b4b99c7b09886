"""The bytes of customers' email attachments, kept for agents (pure).

Email is the one channel whose provider keeps no copy an agent could fetch
later: the file travels in the mail. So every intake path (SMTP, Mailgun,
SendGrid) stores the bytes of an InboundMessage's attachments in PostgreSQL
(``attachment_blobs``, keyed by SHA-256, the ``media_id`` the attachment is
recorded under) *before* the mail is acknowledged, and the gateway serves them.
This module says what to store:

- one :class:`AttachmentBlob` per distinct SHA-256 among the message's attachments;
- none larger than ``OMNIROUTE_EMAIL_ATTACHMENT_MAX_BYTES`` (its name, type, size and
  hash are still recorded; the gateway answers ``not_stored`` for it);
- none for bounces and suppressed mail, which no agent sees.

:class:`MailIngest` is the webhooks' :class:`~omniroute_connectors.base.Ingest`
carrying the blobs; :mod:`.intake` stores them before it publishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from omniroute_connectors.base import Ingest
from omniroute_connectors.email.mime import AttachmentPart


@dataclass(frozen=True)
class AttachmentBlob:
    """One attachment's bytes, named by their SHA-256 (hex, without ``sha256:``)."""

    sha256: str
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class MailIngest(Ingest):
    """What a mail webhook publishes, with the attachment bytes to store first."""

    blobs: tuple[AttachmentBlob, ...] = ()


def blobs_of(parts: Sequence[AttachmentPart], max_bytes: int) -> tuple[AttachmentBlob, ...]:
    """The bytes to store for ``parts``: each distinct file once, none over ``max_bytes``."""
    kept: dict[str, AttachmentBlob] = {}
    for part in parts:
        if max_bytes > 0 and len(part.data) <= max_bytes and part.sha256 not in kept:
            kept[part.sha256] = AttachmentBlob(part.sha256, part.content_type[:255] or None,
                                               part.data)
    return tuple(kept.values())


def blobs_in(ingest: Ingest) -> tuple[AttachmentBlob, ...]:
    """The blobs an ingest carries (none for one that is not a :class:`MailIngest`)."""
    return ingest.blobs if isinstance(ingest, MailIngest) else ()
