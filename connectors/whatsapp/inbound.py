"""WhatsApp Business Cloud API webhooks → InboundMessage / DeliveryStatus (pure).

A POST batches ``entry[].changes[]``; a change with ``field: messages`` carries
``value.messages[]`` (customer messages), ``value.statuses[]`` (our messages'
statuses) and ``value.contacts[]`` (profile names). Echoes (``smb_message_echoes``),
preferences and system notices are not customer messages and are dropped, as are
messages with no content omniroute can carry (``request_welcome``, ``revoke``,
``unsupported``). The idempotency key is the ``wamid``; timestamps are seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
    Reaction,
    SharedContact,
)
from omniroute_connectors.base import BadRequest, Event
from omniroute_connectors.mapping import as_list, event_id, from_epoch_seconds, require

PROVIDER = "whatsapp_cloud"
MEDIA_KINDS = {"image": AttachmentKind.IMAGE, "video": AttachmentKind.VIDEO,
               "audio": AttachmentKind.AUDIO, "document": AttachmentKind.FILE,
               "sticker": AttachmentKind.STICKER}
STATES = {"sent": DeliveryState.SENT, "delivered": DeliveryState.DELIVERED,
          "read": DeliveryState.READ, "failed": DeliveryState.FAILED}


def _attachment(kind: str, media: dict[str, Any]) -> Attachment:
    return Attachment(kind=MEDIA_KINDS[kind], media_id=str(require(media, "id", kind)),
                      content_type=media.get("mime_type"), filename=media.get("filename"))


def _contacts(items: list[dict[str, Any]]) -> list[SharedContact]:
    return [SharedContact(
        name=(c.get("name") or {}).get("formatted_name") or "",
        phones=[p["phone"] for p in c.get("phones", []) if p.get("phone")],
        emails=[e["email"] for e in c.get("emails", []) if e.get("email")],
    ) for c in items]


def _interactive(body: dict[str, Any]) -> InteractiveReply | None:
    kind = body.get("type")
    if kind == "button_reply":
        reply = body["button_reply"]
        return InteractiveReply(kind=InteractiveKind.BUTTON, id=reply.get("id"),
                                title=reply.get("title"))
    if kind == "list_reply":
        reply = body["list_reply"]
        return InteractiveReply(kind=InteractiveKind.LIST, id=reply.get("id"),
                                title=reply.get("title"), payload=reply.get("description"))
    if kind == "nfm_reply":
        reply = body["nfm_reply"]
        return InteractiveReply(kind=InteractiveKind.FLOW, id=reply.get("name"),
                                title=reply.get("body"), payload=reply.get("response_json"))
    return None


def _order_text(order: dict[str, Any]) -> str:
    items = ", ".join(f"{i.get('quantity')} x {i.get('product_retailer_id')}"
                      for i in order.get("product_items", []))
    return (order.get("text") or "") or f"Order: {items}"


def _content(message: dict[str, Any]) -> dict[str, Any] | None:
    """The InboundMessage content fields of one message, or None when it carries none."""
    kind = message.get("type")
    if kind == "edit":
        edited = dict(require(message.get("edit") or {}, "message", "edit"))
        return _content(edited)
    if kind == "text":
        return {"text": require(message.get("text") or {}, "body", "text")}
    if kind in MEDIA_KINDS:
        # the caption is what the customer wrote: the message's text, as Telegram's and
        # Twilio's are, so triage, previews and the history read it
        media = message.get(kind) or {}
        return {"text": media.get("caption") or None, "attachments": [_attachment(kind, media)]}
    if kind == "location":
        place = message.get("location") or {}
        return {"location": Location(latitude=place["latitude"], longitude=place["longitude"],
                                     name=place.get("name"), address=place.get("address"))}
    if kind == "contacts":
        return {"contacts": _contacts(message.get("contacts") or [])}
    if kind == "reaction":
        reaction = message.get("reaction") or {}
        return {"reaction": Reaction(target_provider_message_id=reaction["message_id"],
                                     emoji=reaction.get("emoji") or None)}
    if kind == "interactive":
        reply = _interactive(message.get("interactive") or {})
        return {"interactive": reply} if reply else None
    if kind == "button":
        button = message.get("button") or {}
        return {"interactive": InteractiveReply(kind=InteractiveKind.QUICK_REPLY,
                                                title=button.get("text"),
                                                payload=button.get("payload"))}
    if kind == "order":
        return {"text": _order_text(message.get("order") or {})}
    return None  # request_welcome, revoke, system, unsupported: nothing to carry


def _metadata(message: dict[str, Any]) -> dict[str, str]:
    context = message.get("context") or {}
    meta: dict[str, str] = {}
    if context.get("forwarded") or context.get("frequently_forwarded"):
        meta["forwarded"] = "frequently" if context.get("frequently_forwarded") else "true"
    if message.get("type") == "edit":
        meta["edit_of"] = str((message.get("edit") or {}).get("original_message_id", ""))
    if message.get("type") == "order":
        meta["order"] = json.dumps(message.get("order"))[:2048]
    referral = message.get("referral") or {}
    for key in ("source_url", "source_id", "source_type", "ctwa_clid"):
        if referral.get(key):
            meta[f"referral_{key}"] = str(referral[key])
    return meta


def to_message(message: dict[str, Any], account: str, names: dict[str, str | None]
               ) -> InboundMessage | None:
    """One customer message, or None when it carries nothing omniroute can deliver."""
    wamid = str(require(message, "id", "messages[]"))
    try:
        content = _content(message)
        if content is None:
            return None
        sender = str(require(message, "from", "messages[]"))
        return InboundMessage(
            event_id=event_id("whatsapp", wamid), channel=Channel.WHATSAPP, provider=PROVIDER,
            channel_account=account, sender=Address(value=sender, name=names.get(sender)),
            recipient=Address(value=account), provider_message_id=wamid,
            provider_timestamp=from_epoch_seconds(message.get("timestamp")),
            reply_to_provider_message_id=(message.get("context") or {}).get("id"),
            metadata=_metadata(message), **content,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequest(f"message {wamid} cannot be mapped: {exc}", reason="unmappable") from exc


def to_status(status: dict[str, Any]) -> DeliveryStatus | None:
    """One status of an outbound message (unknown states are ignored)."""
    state = STATES.get(str(status.get("status")))
    if state is None:
        return None
    wamid = str(require(status, "id", "statuses[]"))
    error = (status.get("errors") or [{}])[0]
    return DeliveryStatus(
        event_id=event_id("whatsapp", wamid, state.value), channel=Channel.WHATSAPP,
        provider=PROVIDER, provider_message_id=wamid,
        recipient=Address(value=str(status["recipient_id"])) if status.get("recipient_id")
        else None,
        state=state, status_at=from_epoch_seconds(status.get("timestamp")),
        error_code=str(error["code"]) if error.get("code") is not None else None,
        error_message=error.get("message") or error.get("title"),
    )


def map_payload(payload: dict[str, Any]) -> Sequence[Event]:
    """Every event of one webhook POST, in order."""
    events: list[Event] = []
    for entry in as_list(payload.get("entry"), "entry"):
        for change in as_list(entry.get("changes"), "entry[].changes"):
            if change.get("field") != "messages":
                continue  # echoes, preferences, account updates: not customer traffic
            value = require(change, "value", "entry[].changes[]")
            account = str(require(value.get("metadata") or {}, "phone_number_id", "metadata"))
            names: dict[str, str | None] = {
                str(c.get("wa_id")): (c.get("profile") or {}).get("name")
                for c in as_list(value.get("contacts"), "contacts")
            }
            for message in as_list(value.get("messages"), "messages"):
                mapped = to_message(message, account, names)
                if mapped is not None:
                    events.append(mapped)
            for status in as_list(value.get("statuses"), "statuses"):
                delivery = to_status(status)
                if delivery is not None:
                    events.append(delivery)
    return events
