"""LINE Messaging API webhooks → InboundMessage (pure).

A POST carries ``destination`` (the bot's user id: the channel account) and
``events[]``. Message events (text, image, video, audio, file, location,
sticker) and postbacks become InboundMessages; follow/unfollow/join/leave,
beacons, account links and membership events carry no customer message. The
idempotency key is ``webhookEventId`` (older payloads without it: the message
id); ``replyToken`` is kept so the delivery process may answer for free;
timestamps are milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute.contract import (
    Address,
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    InteractiveKind,
    InteractiveReply,
    Location,
)
from omniroute_connectors.base import BadRequest, Event
from omniroute_connectors.mapping import as_list, event_id, from_epoch_millis, require

PROVIDER = "line"
MEDIA = {"image": AttachmentKind.IMAGE, "video": AttachmentKind.VIDEO,
         "audio": AttachmentKind.AUDIO, "file": AttachmentKind.FILE}


def _source(source: dict[str, Any]) -> tuple[str, str | None]:
    """The sender id and, in a group or room, the conversation's scope."""
    scope = source.get("groupId") or source.get("roomId")
    user = source.get("userId") or scope
    if not user:
        raise BadRequest("events[].source has neither userId, groupId nor roomId",
                         reason="missing_field")
    return str(user), scope


def _content(message: dict[str, Any]) -> dict[str, Any]:
    kind = message.get("type")
    if kind == "text":
        return {"text": message.get("text")}
    if kind in MEDIA:
        provider = message.get("contentProvider") or {}
        url = provider.get("originalContentUrl") if provider.get("type") == "external" else None
        return {"attachments": [Attachment(kind=MEDIA[kind], url=url, media_id=str(message["id"]),
                                           filename=message.get("fileName"),
                                           size_bytes=message.get("fileSize"))]}
    if kind == "location":
        return {"location": Location(latitude=message["latitude"],
                                     longitude=message["longitude"],
                                     name=message.get("title"), address=message.get("address"))}
    if kind == "sticker":
        sticker = f"{message.get('packageId')}/{message.get('stickerId')}"
        return {"attachments": [Attachment(kind=AttachmentKind.STICKER, media_id=sticker)]}
    return {}


def map_event(event: dict[str, Any], account: str) -> InboundMessage | None:
    """One webhook event, or None when it is not a customer message."""
    kind = event.get("type")
    if kind not in ("message", "postback"):
        return None
    sender, scope = _source(require(event, "source", "events[]"))
    if kind == "message":
        message = require(event, "message", "events[]")
        message_id = str(require(message, "id", "events[].message"))
        content = _content(message)
        reply_to = message.get("quotedMessageId")
    else:
        postback = require(event, "postback", "events[]")
        message_id = f"postback:{sender}:{event.get('timestamp')}"
        params = postback.get("params") or {}
        content = {"interactive": InteractiveReply(
            kind=InteractiveKind.POSTBACK, payload=postback.get("data"),
            title=next(iter(params.values()), None) if params else None)}
        reply_to = None
    if not any(content.values()):
        return None
    key = event.get("webhookEventId") or message_id
    meta = {k: str(v) for k, v in (("reply_token", event.get("replyToken")),
                                   ("scope", scope)) if v}
    if (event.get("deliveryContext") or {}).get("isRedelivery"):
        meta["redelivery"] = "true"
    return InboundMessage(
        event_id=event_id(PROVIDER, str(key)), channel=Channel.LINE, provider=PROVIDER,
        channel_account=account, sender=Address(value=sender, scope=scope),
        recipient=Address(value=account), provider_message_id=message_id,
        provider_timestamp=from_epoch_millis(event.get("timestamp")),
        reply_to_provider_message_id=reply_to, metadata=meta, **content,
    )


def map_payload(payload: dict[str, Any]) -> Sequence[Event]:
    """Every customer message of one POST, in order."""
    account = str(require(payload, "destination", "body"))
    events: list[Event] = []
    for item in as_list(payload.get("events"), "events"):
        try:
            mapped = map_event(item, account)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRequest(f"LINE event cannot be mapped: {exc}", reason="unmappable") from exc
        if mapped is not None:
            events.append(mapped)
    return events
