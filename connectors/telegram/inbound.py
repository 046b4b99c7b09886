"""Telegram Bot API updates → InboundMessage (pure).

One POST is one ``Update``; ``update_id`` is the idempotency key. ``message``
and ``edited_message`` carry text, captions, photos (largest size kept),
documents, audio, voice, video, stickers, locations, contacts and
``reply_to_message``; ``callback_query`` is an inline-button answer;
``message_reaction`` a reaction. Timestamps are seconds. Messages from bots
(our own, in groups) are suppressed.
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
    Reaction,
    SharedContact,
)
from omniroute_connectors.base import BadRequest, Event
from omniroute_connectors.mapping import event_id, from_epoch_seconds, require

PROVIDER = "telegram"
MEDIA = {"document": AttachmentKind.FILE, "audio": AttachmentKind.AUDIO,
         "voice": AttachmentKind.AUDIO, "video": AttachmentKind.VIDEO,
         "video_note": AttachmentKind.VIDEO, "sticker": AttachmentKind.STICKER,
         "animation": AttachmentKind.VIDEO}


def _attachments(message: dict[str, Any]) -> list[Attachment]:
    found = []
    if message.get("photo"):
        largest = max(message["photo"], key=lambda size: size.get("file_size") or 0)
        found.append(Attachment(kind=AttachmentKind.IMAGE, media_id=largest["file_id"],
                                size_bytes=largest.get("file_size")))
    for key, kind in MEDIA.items():
        media = message.get(key)
        if media:
            found.append(Attachment(kind=kind, media_id=media["file_id"],
                                    content_type=media.get("mime_type"),
                                    filename=media.get("file_name"),
                                    size_bytes=media.get("file_size")))
            break  # animation also carries document: keep one
    return found


def _content(message: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {"text": message.get("text") or message.get("caption"),
                               "attachments": _attachments(message)}
    if message.get("location"):
        place = message["location"]
        venue = message.get("venue") or {}
        content["location"] = Location(latitude=place["latitude"], longitude=place["longitude"],
                                       name=venue.get("title"), address=venue.get("address"))
    if message.get("contact"):
        card = message["contact"]
        name = " ".join(filter(None, [card.get("first_name"), card.get("last_name")]))
        content["contacts"] = [SharedContact(name=name, phones=[card["phone_number"]])]
    return content


def _sender(user: dict[str, Any], chat: dict[str, Any]) -> Address:
    name = " ".join(filter(None, [user.get("first_name"), user.get("last_name")])) or None
    return Address(value=str(chat.get("id", user.get("id"))), name=name)


def map_update(update: dict[str, Any], bot: str) -> Sequence[Event]:
    """The InboundMessage of one update (none for updates that are not customer input)."""
    update_id = str(require(update, "update_id", "update"))
    try:
        message = update.get("message") or update.get("edited_message")
        if message is not None:
            user, chat = message.get("from") or {}, require(message, "chat", "message")
            if user.get("is_bot"):
                return []
            content = _content(message)
            meta = {"edited": "true"} if "edited_message" in update else {}
            reply = message.get("reply_to_message") or {}
            when = message.get("edit_date") or message.get("date")
            provider_id = f"{chat['id']}:{message['message_id']}"
        elif update.get("callback_query"):
            query = update["callback_query"]
            user = query["from"]
            chat = (query.get("message") or {}).get("chat") or {"id": user["id"]}
            content = {"interactive": InteractiveReply(kind=InteractiveKind.BUTTON,
                                                       id=query.get("id"),
                                                       payload=query.get("data"))}
            meta, reply, when = {}, query.get("message") or {}, None
            provider_id = f"callback:{query['id']}"
        elif update.get("message_reaction"):
            change = update["message_reaction"]
            user, chat = change.get("user") or {}, change["chat"]
            emoji = next((r.get("emoji") for r in change.get("new_reaction", [])
                          if r.get("type") == "emoji"), None)
            target = f"{chat['id']}:{change['message_id']}"
            content = {"reaction": Reaction(target_provider_message_id=target, emoji=emoji)}
            meta, reply, when = {}, {}, change.get("date")
            provider_id = f"reaction:{update_id}"
        else:
            return []  # channel posts, polls, membership changes
        if not any(content.values()):
            return []
        return [InboundMessage(
            event_id=event_id(PROVIDER, bot, update_id), channel=Channel.TELEGRAM,
            provider=PROVIDER, channel_account=bot, sender=_sender(user, chat),
            recipient=Address(value=bot), provider_message_id=provider_id,
            provider_timestamp=from_epoch_seconds(when),
            reply_to_provider_message_id=(f"{chat['id']}:{reply['message_id']}"
                                          if reply.get("message_id") else None),
            metadata=meta, **content,
        )]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequest(f"update {update_id} cannot be mapped: {exc}",
                         reason="unmappable") from exc
