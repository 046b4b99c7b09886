"""Recognizing mail no agent should see: auto-replies, bounces, complaints, receipts.

Auto-replies are recognized by the headers RFC 3834 and common mailers set
(``Auto-Submitted`` other than ``no``, ``X-Autoreply``, ``X-Autorespond``,
``Precedence: bulk|junk|list|auto_reply``) and by "out of office" subjects.
Bounces are delivery-status reports (RFC 3464) or plain-text notices from a
mailer daemon; :class:`Bounce` keeps what a DeliveryStatus needs: the failed
recipient, the SMTP status, the diagnostic and the Message-ID of the mail that
bounced (ours, so the failure finds its outbound message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from omniroute_connectors.email.charsets import decode_bytes
from omniroute_connectors.email.mime import ParsedEmail, message_ids


class MailKind(StrEnum):
    """What an email is, as far as routing is concerned."""

    MESSAGE = "message"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    DELAY = "delay"
    COMPLAINT = "complaint"
    RECEIPT = "receipt"


@dataclass(frozen=True)
class Bounce:
    """The facts of a delivery failure report."""

    recipient: str | None
    status: str | None
    diagnostic: str | None
    original_message_id: str | None
    reply_token: str | None


AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|delivery status notification|returned mail|failure notice|"
    r"mail delivery failed|delivery failure|could not be delivered)",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?(reply|response)|out of (the )?office|abwesenheitsnotiz|"
    r"r[ée]ponse automatique)\b|^auto:",
    re.IGNORECASE,
)
_FIELD = {
    name: re.compile(rf"^{name}\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
    for name in ("Action", "Status", "Final-Recipient", "Original-Recipient", "Diagnostic-Code")
}
_ORIGINAL_ID = re.compile(r"^\s*Message-ID\s*:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_REPLY_TOKEN_IN_REPLY_TO = re.compile(r"^\s*Reply-To\s*:.*?\+([A-Za-z0-9._=-]+)@", re.I | re.M)


def _report_type(parsed: ParsedEmail) -> str:
    ctype = parsed.header("content-type").lower()
    match = re.search(r"report-type\s*=\s*\"?([a-z-]+)", ctype)
    return match.group(1) if match else ""


def classify(parsed: ParsedEmail) -> MailKind:
    """Decide whether an email is a customer message or machine-generated mail."""
    report = _report_type(parsed)
    sender = parsed.sender[1] if parsed.sender else ""
    if report == "feedback-report":
        return MailKind.COMPLAINT
    if report == "disposition-notification" or parsed.header("disposition"):
        return MailKind.RECEIPT
    if report == "delivery-status" or parsed.content_type == "message/delivery-status" or (
        (_DAEMON.match(sender) or not sender) and _BOUNCE_SUBJECT.search(parsed.subject)
    ) or parsed.header("x-failed-recipients"):
        return MailKind.DELAY if _is_delay(parsed) else MailKind.BOUNCE
    auto = parsed.header("auto-submitted").strip().lower()
    if auto and auto != "no":
        return MailKind.AUTO_REPLY
    if parsed.header("x-autoreply") or parsed.header("x-autorespond"):
        return MailKind.AUTO_REPLY
    if parsed.header("precedence").strip().lower() in AUTO_PRECEDENCE:
        return MailKind.AUTO_REPLY
    if _AUTO_SUBJECT.search(parsed.subject):
        return MailKind.AUTO_REPLY
    return MailKind.MESSAGE


def _report_text(parsed: ParsedEmail) -> str:
    chunks = [parsed.text]
    for part in parsed.parts:
        if part.get_content_maintype() == "message" or "rfc822" in part.get_content_type():
            chunks.append(part.as_string() if part.is_multipart() else _payload_text(part))
    return "\n".join(chunks)


def _payload_text(part: object) -> str:
    payload = part.get_payload(decode=True)  # type: ignore[attr-defined]
    if isinstance(payload, bytes):
        return decode_bytes(payload)
    raw = part.get_payload()  # type: ignore[attr-defined]
    if isinstance(raw, list):
        return "\n".join(str(p) for p in raw)
    return str(raw or "")


def _is_delay(parsed: ParsedEmail) -> bool:
    actions = [a.strip().lower() for a in _FIELD["Action"].findall(_report_text(parsed))]
    return bool(actions) and all(a == "delayed" for a in actions)


def bounce_details(parsed: ParsedEmail) -> Bounce:
    """Extract recipient, status, diagnostic and the bounced Message-ID from a report."""
    text = _report_text(parsed)

    def field(name: str) -> str | None:
        match = _FIELD[name].search(text)
        return match.group(1).strip() if match else None

    recipient = field("Final-Recipient") or field("Original-Recipient")
    if recipient and ";" in recipient:
        recipient = recipient.split(";", 1)[1]
    recipient = (recipient or parsed.header("x-failed-recipients") or "").strip(" <>") or None
    own_ids = {parsed.message_id} if parsed.message_id else set()
    originals = [i for m in _ORIGINAL_ID.findall(text) for i in message_ids(m) if i not in own_ids]
    token = _REPLY_TOKEN_IN_REPLY_TO.search(text)
    return Bounce(
        recipient=recipient,
        status=field("Status"),
        diagnostic=field("Diagnostic-Code"),
        original_message_id=originals[0] if originals else None,
        reply_token=token.group(1) if token else None,
    )
