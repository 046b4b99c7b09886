"""Twilio Programmable Messaging webhooks → InboundMessage / DeliveryStatus (pure).

One POST carries one message (SMS, MMS, or WhatsApp via Twilio: ``From`` starts
with ``whatsapp:``) or one status callback (``MessageStatus`` other than
``received``). The idempotency key is ``MessageSid``.
"""

from __future__ import annotations

from collections.abc import Sequence

from omniroute.contract import (
    Address,
    Attachment,
    AttachmentKind,
    Channel,
    DeliveryState,
    DeliveryStatus,
    InboundMessage,
    InteractiveKind,
    InteractiveReply,
    Location,
)
from omniroute_connectors.base import BadRequest, Event
from omniroute_connectors.mapping import event_id

PROVIDER = "twilio"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

STATUS_STATES = {
    "accepted": DeliveryState.ACCEPTED, "scheduled": DeliveryState.ACCEPTED,
    "queued": DeliveryState.ACCEPTED, "sending": DeliveryState.ACCEPTED,
    "sent": DeliveryState.SENT, "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ, "failed": DeliveryState.FAILED,
    "undelivered": DeliveryState.FAILED, "canceled": DeliveryState.FAILED,
}
INBOUND_STATES = frozenset({"received", "receiving"})


def _kind(content_type: str | None) -> AttachmentKind:
    major = (content_type or "").split("/")[0]
    return {"image": AttachmentKind.IMAGE, "audio": AttachmentKind.AUDIO,
            "video": AttachmentKind.VIDEO}.get(major, AttachmentKind.FILE)


def _channel(address: str) -> Channel:
    return Channel.WHATSAPP if address.startswith("whatsapp:") else Channel.SMS


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise BadRequest(f"form field {name} is required", reason="missing_field")
    return value


def _media(params: dict[str, str]) -> list[Attachment]:
    try:
        count = int(params.get("NumMedia") or 0)
    except ValueError as exc:
        raise BadRequest("form field NumMedia must be an integer") from exc
    attachments = []
    for index in range(count):
        url = params.get(f"MediaUrl{index}")
        if not url:
            raise BadRequest(f"NumMedia is {count} but MediaUrl{index} is missing",
                             reason="missing_field")
        content_type = params.get(f"MediaContentType{index}")
        attachments.append(Attachment(kind=_kind(content_type), url=url,
                                      content_type=content_type))
    return attachments


def _interactive(params: dict[str, str]) -> InteractiveReply | None:
    if params.get("ButtonPayload") or params.get("ButtonText"):
        return InteractiveReply(kind=InteractiveKind.BUTTON, id=params.get("ButtonPayload"),
                                title=params.get("ButtonText"),
                                payload=params.get("ButtonPayload"))
    if params.get("ListId"):
        return InteractiveReply(kind=InteractiveKind.LIST, id=params["ListId"],
                                title=params.get("ListTitle"))
    return None


def _location(params: dict[str, str]) -> Location | None:
    if not params.get("Latitude") or not params.get("Longitude"):
        return None
    try:
        return Location(latitude=float(params["Latitude"]), longitude=float(params["Longitude"]),
                        name=params.get("Label") or None, address=params.get("Address") or None)
    except ValueError as exc:
        raise BadRequest(f"Latitude/Longitude are not coordinates: {exc}") from exc


def to_message(params: dict[str, str]) -> InboundMessage:
    """One inbound SMS/MMS/WhatsApp message."""
    sid = _required(params, "MessageSid")
    sender, recipient = _required(params, "From"), _required(params, "To")
    attachments, interactive, location = _media(params), _interactive(params), _location(params)
    text = params.get("Body") or None
    if interactive is not None and text == interactive.title:
        text = None
    metadata = {k: params[k] for k in ("WaId", "Forwarded", "ReferralSourceUrl") if params.get(k)}
    try:
        return InboundMessage(
            event_id=event_id(PROVIDER, sid), channel=_channel(sender), provider=PROVIDER,
            channel_account=recipient,
            sender=Address(value=sender, name=params.get("ProfileName") or None),
            recipient=Address(value=recipient), provider_message_id=sid, text=text,
            attachments=attachments, location=location, interactive=interactive,
            reply_to_provider_message_id=params.get("OriginalRepliedMessageSid") or None,
            metadata=metadata,
        )
    except ValueError as exc:
        raise BadRequest(f"message {sid} cannot be mapped: {exc}", reason="unmappable") from exc


def to_status(params: dict[str, str]) -> DeliveryStatus:
    """One status callback of an outbound message."""
    sid = _required(params, "MessageSid")
    raw = _required(params, "MessageStatus").lower()
    state = STATUS_STATES.get(raw)
    if state is None:
        raise BadRequest(f"MessageStatus {raw!r} is not a Twilio message status",
                         reason="unknown_status")
    to = params.get("To")
    return DeliveryStatus(
        event_id=event_id(PROVIDER, sid, raw), channel=_channel(to or params.get("From") or ""),
        provider=PROVIDER, provider_message_id=sid,
        recipient=Address(value=to) if to else None, state=state,
        error_code=params.get("ErrorCode") or None,
        error_message=params.get("ErrorMessage") or None,
    )


def map_webhook(params: dict[str, str]) -> Sequence[Event]:
    """A Twilio webhook's events: a status change, or a customer message."""
    status = (params.get("MessageStatus") or "").lower()
    if status and status not in INBOUND_STATES:
        return [to_status(params)]
    return [to_message(params)]
