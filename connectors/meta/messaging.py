"""Messenger and Instagram Messaging webhooks → InboundMessage / DeliveryStatus (pure).

Both batch ``entry[].messaging[]`` events: ``message`` (text, attachments, quick
replies, replies), ``postback``, ``reaction``, ``delivery`` (``mids`` delivered) and
``read`` (everything up to ``watermark`` read). ``message.is_echo`` marks the
page's own messages: they are suppressed so they never loop back as customer
messages. The idempotency key is ``message.mid``; timestamps are milliseconds.
A Messenger ``read`` carries no message id: it becomes one ``read`` DeliveryStatus for
the recipient with ``status_at`` = watermark (every earlier message is read); an
Instagram ``read`` (messaging_seen) names the ``mid`` that was seen. Instagram story
replies keep the story's id and URL in ``metadata`` (``reply_to_story_id``/``_url``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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
)
from omniroute_connectors.base import BadRequest, Event
from omniroute_connectors.mapping import (
    as_list,
    event_id,
    from_epoch_millis,
    from_epoch_seconds,
    require,
)

KINDS = {"image": AttachmentKind.IMAGE, "video": AttachmentKind.VIDEO,
         "audio": AttachmentKind.AUDIO, "file": AttachmentKind.FILE,
         "sticker": AttachmentKind.STICKER}


def _timestamp(value: Any) -> datetime | None:
    """Meta's event ``timestamp``: milliseconds (Messenger), though Instagram's documented
    examples show seconds; values below 10^11 (before 1973 as milliseconds) are seconds."""
    if value is not None and str(value).isdigit() and int(value) < 10**11:
        return from_epoch_seconds(value)
    return from_epoch_millis(value)


def _attachments(items: list[dict[str, Any]]) -> tuple[list[Attachment], Location | None]:
    attachments, location = [], None
    for item in items:
        payload = item.get("payload") or {}
        if item.get("type") == "location" and payload.get("coordinates"):
            point = payload["coordinates"]
            location = Location(latitude=point["lat"], longitude=point["long"],
                                name=item.get("title"))
        elif payload.get("url"):
            attachments.append(Attachment(kind=KINDS.get(str(item.get("type")),
                                                         AttachmentKind.FILE),
                                          url=payload["url"]))
    return attachments, location


class MessagingMapper:
    """Maps one Meta messaging webhook for a channel (Messenger or Instagram)."""

    def __init__(self, channel: Channel, provider: str) -> None:
        self.channel = channel
        self.provider = provider

    def _message(self, event: dict[str, Any], account: str, sender: str) -> InboundMessage | None:
        message = event["message"]
        if message.get("is_echo"):
            return None  # our own message, reflected back by Meta
        mid = str(require(message, "mid", "messaging[].message"))
        attachments, location = _attachments(message.get("attachments") or [])
        quick = message.get("quick_reply") or {}
        interactive = (InteractiveReply(kind=InteractiveKind.QUICK_REPLY, title=message.get("text"),
                                        payload=quick.get("payload")) if quick else None)
        if not (message.get("text") or attachments or location or interactive):
            return None  # deleted/unsupported content: nothing an agent can read
        reply = message.get("reply_to") or {}
        story = reply.get("story") or {}  # Instagram: a reply to the account's story
        metadata = {f"reply_to_story_{k}": str(story[k]) for k in ("id", "url") if story.get(k)}
        return self._inbound(event, account, sender, mid, text=message.get("text"),
                             attachments=attachments, location=location, interactive=interactive,
                             reply_to_provider_message_id=reply.get("mid"), metadata=metadata)

    def _inbound(self, event: dict[str, Any], account: str, sender: str, mid: str,
                 **content: Any) -> InboundMessage:
        return InboundMessage(
            event_id=event_id(self.channel.value, mid), channel=self.channel,
            provider=self.provider, channel_account=account,
            sender=Address(value=sender, scope=account), recipient=Address(value=account),
            provider_message_id=mid, provider_timestamp=_timestamp(event.get("timestamp")),
            **content,
        )

    def _postback(self, event: dict[str, Any], account: str, sender: str) -> InboundMessage:
        postback = event["postback"]
        mid = postback.get("mid") or f"postback:{sender}:{event.get('timestamp')}"
        reply = InteractiveReply(kind=InteractiveKind.POSTBACK, title=postback.get("title"),
                                 payload=postback.get("payload"))
        return self._inbound(event, account, sender, str(mid), interactive=reply)

    def _reaction(self, event: dict[str, Any], account: str, sender: str) -> InboundMessage:
        reaction = event["reaction"]
        target = str(require(reaction, "mid", "messaging[].reaction"))
        emoji = reaction.get("emoji") if reaction.get("action") != "unreact" else None
        action = reaction.get("action") or "react"  # a react and its unreact differ
        key = f"reaction:{target}:{sender}:{event.get('timestamp')}:{action}"
        return self._inbound(event, account, sender, key,
                             reaction=Reaction(target_provider_message_id=target, emoji=emoji))

    def _statuses(self, event: dict[str, Any], sender: str) -> list[DeliveryStatus]:
        if "delivery" in event:
            delivery = event["delivery"]
            at = from_epoch_millis(delivery.get("watermark"))
            return [DeliveryStatus(
                event_id=event_id(self.channel.value, str(mid), "delivered"),
                channel=self.channel, provider=self.provider, provider_message_id=str(mid),
                recipient=Address(value=sender), state=DeliveryState.DELIVERED, status_at=at,
            ) for mid in delivery.get("mids") or []]
        read = event["read"]
        if read.get("watermark") is None and read.get("mid"):  # Instagram messaging_seen
            mid = str(read["mid"])
            return [DeliveryStatus(
                event_id=event_id(self.channel.value, mid, "read"), channel=self.channel,
                provider=self.provider, provider_message_id=mid, recipient=Address(value=sender),
                state=DeliveryState.READ, status_at=_timestamp(event.get("timestamp")))]
        watermark = str(require(read, "watermark", "messaging[].read"))
        return [DeliveryStatus(
            event_id=event_id(self.channel.value, "read", sender, watermark),
            channel=self.channel, provider=self.provider, recipient=Address(value=sender),
            state=DeliveryState.READ, status_at=from_epoch_millis(watermark),
            provider_message_id=read.get("mid"),
        )]

    def map_event(self, event: dict[str, Any], account: str) -> list[Event]:
        """The events of one ``messaging[]`` item."""
        sender = str(require(event.get("sender") or {}, "id", "messaging[].sender"))
        try:
            if "message" in event:
                found = self._message(event, account, sender)
                return [found] if found else []
            if "postback" in event:
                return [self._postback(event, account, sender)]
            if "reaction" in event:
                return [self._reaction(event, account, sender)]
            if "delivery" in event or "read" in event:
                return list(self._statuses(event, sender))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRequest(f"messaging event cannot be mapped: {exc}",
                             reason="unmappable") from exc
        return []  # optins, referrals, handovers: not customer messages

    def map_payload(self, payload: dict[str, Any]) -> Sequence[Event]:
        """Every event of one webhook POST, in order."""
        events: list[Event] = []
        for entry in as_list(payload.get("entry"), "entry"):
            account = str(require(entry, "id", "entry[]"))
            for item in as_list(entry.get("messaging"), "entry[].messaging"):
                events.extend(self.map_event(item, account))
        return events
