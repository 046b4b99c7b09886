"""Composing the outbound email for an OutboundMessage (pure).

The reply threads under the customer's mail in every client: ``In-Reply-To``
is the customer's latest Message-ID, ``References`` the whole chain, the
subject gets one ``Re:``. ``Message-ID`` is derived from the outbound
``event_id``, so a retried send carries the same id (and the bounce of it
finds it again). ``Reply-To`` is the mailbox's plus address with the reply
token (the conversation id unless the message carries its own token), so the
customer's answer comes back to the same conversation even if their client
drops the threading headers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from email.utils import format_datetime

from omniroute.contract import AuthorKind, OutboundMessage
from omniroute.contract.base import utcnow
from omniroute.conversations.mailthread import outbound_message_id

_TOKEN_SAFE = re.compile(r"^[A-Za-z0-9._=-]{1,60}$")


@dataclass(frozen=True)
class FileAttachment:
    """Bytes to attach, fetched by the shell from the attachment's URL."""

    filename: str
    content_type: str
    data: bytes


def message_id_for(message: OutboundMessage) -> str:
    """The deterministic Message-ID (without brackets) of an outbound message.

    It names the conversation, so a reply to it threads at any age
    (:mod:`omniroute.conversations.mailthread`).
    """
    return outbound_message_id(message.event_id, message.conversation_id,
                               message.channel_account)


def reply_token_for(message: OutboundMessage) -> str | None:
    """The token put in the Reply-To plus address, when it is address-safe."""
    token = (message.thread.reply_token if message.thread else None) or message.conversation_id
    return token if _TOKEN_SAFE.match(token) else None


def reply_address(mailbox: str, token: str | None) -> str:
    """``local+token@domain`` (just the mailbox without a token)."""
    local, _, domain = mailbox.partition("@")
    return f"{local}+{token}@{domain}" if token else mailbox


def _subject(message: OutboundMessage) -> str:
    subject = (message.thread.subject if message.thread else None) or "Your support request"
    return subject if re.match(r"^\s*(re|aw|sv|r)\s*:", subject, re.I) else f"Re: {subject}"


def _threading(message: OutboundMessage) -> tuple[str | None, list[str]]:
    thread = message.thread
    parent = (thread.message_id if thread else None) or message.reply_to_provider_message_id
    chain: list[str] = []
    for item in [*(thread.references if thread else []), *(thread.in_reply_to if thread else []),
                 parent]:
        if item and item not in chain:
            chain.append(item)
    if parent is None and chain:
        parent = chain[-1]
    return parent, chain


def _html_body(text: str) -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    inner = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f"<!DOCTYPE html><html><body>{inner}</body></html>"


def sender_name(message: OutboundMessage, from_name: str = "") -> str:
    """The From display name: a named agent's name, else the desk's ``from_name``
    (``OMNIROUTE_EMAIL_FROM_NAME``). Automation's and the bot's own names ("omniroute",
    "Answer bot") label them for agents and are never shown to the customer."""
    author = message.author
    return (author.name if author.kind == AuthorKind.AGENT and author.name else None) or from_name


def auto_submitted(message: OutboundMessage) -> str:
    """RFC 3834's ``Auto-Submitted``: ``no`` for a person's reply; automation's and the
    bot's mail is ``auto-replied`` (an answer to the customer's message: acknowledgement,
    out-of-office, bot answer, survey) or ``auto-generated`` (a proactive message), so
    the customer's out-of-office and ticket responders do not answer it (a user run's
    acknowledgement went out as ``no``, 2026-12-05)."""
    if message.author.kind == AuthorKind.AGENT:
        return "no"
    return "auto-generated" if message.proactive else "auto-replied"


def compose_reply(message: OutboundMessage, files: Sequence[FileAttachment] = (),
                  from_name: str = "") -> EmailMessage:
    """The email for ``message``: threading headers, plain + HTML, attachments."""
    mailbox = message.channel_account
    mail = EmailMessage()
    local, _, domain = mailbox.partition("@")
    mail["From"] = MailAddress(display_name=sender_name(message, from_name), username=local,
                               domain=domain)
    mail["To"] = MailAddress(
        display_name=message.recipient.name or "", addr_spec=message.recipient.value
    )
    mail["Subject"] = _subject(message)
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = f"<{message_id_for(message)}>"
    mail["Reply-To"] = reply_address(mailbox, reply_token_for(message))
    parent, chain = _threading(message)
    if parent:
        mail["In-Reply-To"] = f"<{parent}>"
    if chain:
        mail["References"] = " ".join(f"<{item}>" for item in chain)
    mail["Auto-Submitted"] = submitted = auto_submitted(message)
    if submitted != "no":
        mail["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office back to it
    text = message.text or "\n".join(
        f"{a.filename or 'attachment'}: {a.url}" for a in message.attachments if a.url
    ) or " "
    mail.set_content(text)
    mail.add_alternative(_html_body(text), subtype="html")
    for item in files:
        maintype, _, subtype = item.content_type.partition("/")
        mail.add_attachment(item.data, maintype=maintype or "application",
                            subtype=subtype or "octet-stream", filename=item.filename)
    return mail
